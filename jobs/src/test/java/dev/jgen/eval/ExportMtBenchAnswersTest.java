package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The FastChat model_answer export: format, order, stability, and a round trip through the file. */
class ExportMtBenchAnswersTest {
  @TempDir Path dir;

  @Test
  void exportsFastChatModelAnswersAndReadsBack() throws Exception {
    List<String> lines = new ArrayList<>(Files.readAllLines(TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl")));
    lines.add("{\"question_id\": 99, \"category\": \"writing\", \"turns\": []}");
    Path in = TestFiles.jsonl(dir, "questions.jsonl", lines);
    String table = dir.resolve("answers").toString();
    Map<String, Object> s = EvalTesting.settings("llm-jp-3-1.8b-instruct", in, dir.resolve("answers"));
    s.put("generation.n", 2);
    s.put("run.id", "mt-export");
    MtBenchResult r = GenerateMtBenchAnswers.of(TestSpark.get(), EvalTesting.job(s)).progress(null).execute();
    assertEquals(9, r.questions());
    assertEquals(18, r.rowsIn());
    assertEquals(16, r.ok());
    assertEquals(2, r.error());

    ExportMtBenchAnswers.Result x = ExportMtBenchAnswers.of(TestSpark.get(), table).run("mt-export").to(dir.resolve("model_answer")).execute();
    Path file = dir.resolve("model_answer/llm-jp-3-1.8b-instruct.jsonl");
    assertEquals(file, x.file());
    assertEquals(9, x.questions());
    assertEquals(8, x.exported());
    assertEquals(Map.of("99", "choice 0: turns: empty; a question needs at least one user turn"), x.leftOut());

    byte[] bytes = Files.readAllBytes(file);
    for (byte b : bytes) {
      assertTrue(b >= 0, "json.dumps' default ensure_ascii: the file is ASCII");
    }
    List<String> out = Files.readAllLines(file, StandardCharsets.UTF_8);
    assertEquals(8, out.size(), "one line per question");

    // The table's answers, to compare with what the file says.
    Map<String, List<String>> answers = new HashMap<>();
    for (Row row : TestSpark.get().read().format("delta").load(table).where("status = 'ok'").collectAsList()) {
      List<String> t = new ArrayList<>();
      for (Row turn : row.<Row>getList(row.fieldIndex("turns"))) {
        t.add(turn.getAs("answer"));
      }
      answers.put(row.getAs("question_id") + "/" + row.getAs("choice_index"), t);
    }

    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < out.size(); i++) {
      String line = out.get(i);
      JsonNode a = json.readTree(line);
      // FastChat's gen_model_answer: keys in this order, written by json.dumps with ", " and ": ".
      List<String> keys = new ArrayList<>();
      a.fieldNames().forEachRemaining(keys::add);
      assertEquals(List.of("question_id", "answer_id", "model_id", "choices", "tstamp"), keys);
      assertTrue(line.startsWith("{\"question_id\": " + (i + 1) + ", \"answer_id\": \""), line);
      assertTrue(a.get("question_id").isIntegralNumber(), "question_id written back as the input's integer");
      assertEquals(i + 1, a.get("question_id").asInt(), "questions in input order");
      assertTrue(a.get("answer_id").textValue().matches("[2-9A-HJ-NP-Za-km-z]{22}"), a.get("answer_id").textValue());
      assertEquals("llm-jp-3-1.8b-instruct", a.get("model_id").textValue());
      assertTrue(a.get("tstamp").isFloatingPointNumber() && a.get("tstamp").asDouble() > 1.6e9, line);
      JsonNode choices = a.get("choices");
      assertEquals(2, choices.size());
      for (int c = 0; c < 2; c++) {
        JsonNode choice = choices.get(c);
        List<String> ck = new ArrayList<>();
        choice.fieldNames().forEachRemaining(ck::add);
        assertEquals(List.of("index", "turns"), ck);
        assertEquals(c, choice.get("index").asInt(), "choices in index order");
        List<String> turns = new ArrayList<>();
        choice.get("turns").forEach(t -> turns.add(t.textValue()));
        assertEquals(2, turns.size());
        // Round trip: the file's answers are the table's.
        assertEquals(answers.get((i + 1) + "/" + c), turns);
      }
      assertEquals(line, PyJson.dumps(json.convertValue(a, Map.class)), "re-serialized identically");
    }

    // Stable: exporting again writes the same bytes (answer ids derive from run, question and model).
    ExportMtBenchAnswers.of(TestSpark.get(), table).to(dir.resolve("model_answer")).execute();
    assertArrayEquals(bytes, Files.readAllBytes(file));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ExportMtBenchAnswers.of(TestSpark.get(), table).run("nope").to(dir.resolve("x")).execute());
    assertTrue(e.getMessage().contains("no such run"), e.getMessage());
  }

  @Test
  void pythonJsonDumps() {
    Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("a", "日本\n\"x\"\u007f😀");
    m.put("b", List.of(1, 2.5, true));
    m.put("t", 1732290000.125);
    assertEquals("{\"a\": \"\\u65e5\\u672c\\n\\\"x\\\"\\u007f\\ud83d\\ude00\", \"b\": [1, 2.5, true], \"t\": 1732290000.125}",
        PyJson.dumps(m));
    assertEquals("1732290000.0", PyJson.floatRepr(1732290000.0));
  }
}
