package dev.jgen.input;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** input.format=openai-batch: each kind of bad line is a row whose error names the line and the field; good lines map. */
class OpenAiBatchInputTest {
  @TempDir Path dir;

  private static final String GOOD_BODY = "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"system\", \"content\": \"丁寧に\"}, "
      + "{\"role\": \"user\", \"content\": \"日本の首都は？\"}], \"max_tokens\": 7, \"temperature\": 0.3, \"top_p\": 0.9, \"seed\": 11}";

  private static String line(String customId, String body) {
    return "{\"custom_id\": \"" + customId + "\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": " + body + "}";
  }

  /** The error of line {@code n} (1-based) parsed alone; asserts it names the line. */
  private static String error(String text, long n) {
    String e = (String) OpenAiBatchInput.parse(text, n)[8];
    assertTrue(e != null && e.startsWith("line " + n + ": "), "expected an error for line " + n + ", got " + e);
    return e;
  }

  @Test
  void goodLineMapsToTheOrdinaryInputColumns() {
    Object[] v = OpenAiBatchInput.parse(line("req-1", GOOD_BODY), 1);
    assertNull(v[8]);
    assertEquals("req-1", v[0]);
    Object[] msgs = (Object[]) v[1];
    assertEquals(2, msgs.length);
    assertEquals("system", ((Row) msgs[0]).getString(0));
    assertEquals("日本の首都は？", ((Row) msgs[1]).getString(1));
    assertEquals(7, v[2]);
    assertEquals(0.3, v[3]);
    assertEquals(0.9, v[4]);
    assertEquals(11L, v[7]);
  }

  @Test
  void maxCompletionTokensAndTextPartsAndVllmExtensions() {
    Object[] v = OpenAiBatchInput.parse(line("a", "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"一\"}, "
        + "{\"type\": \"text\", \"text\": \"二\"}]}], \"max_completion_tokens\": 5, \"top_k\": 40, \"repetition_penalty\": 1.1, "
        + "\"n\": 1, \"stream\": false, \"stop\": [], \"user\": \"u1\"}"), 3);
    assertNull(v[8]);
    assertEquals("一\n二", ((Row) ((Object[]) v[1])[0]).getString(1));
    assertEquals(5, v[2]);
    assertEquals(40, v[5]);
    assertEquals(1.1, v[6]);
  }

  @Test
  void notJson() {
    String e = error("{\"custom_id\": \"x\", \"method\": \"POST\",", 4);
    assertTrue(e.contains("not a JSON object"), e);
    assertTrue(error("[1, 2]", 5).contains("not a JSON object (a array)"));
  }

  @Test
  void missingCustomId() {
    String e = error("{\"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": " + GOOD_BODY + "}", 2);
    assertTrue(e.contains("custom_id: missing"), e);
    assertTrue(error(line("", GOOD_BODY), 2).contains("custom_id: expected a non-empty string"));
  }

  @Test
  void wrongUrl() {
    String e = error(line("x", GOOD_BODY).replace("/v1/chat/completions", "/v1/embeddings"), 9);
    assertTrue(e.contains("url: expected \"/v1/chat/completions\"") && e.contains("/v1/embeddings"), e);
  }

  @Test
  void wrongMethod() {
    String e = error(line("x", GOOD_BODY).replace("\"POST\"", "\"GET\""), 6);
    assertTrue(e.contains("method: expected \"POST\", got \"GET\""), e);
  }

  @Test
  void bodyNotAChatRequest() {
    assertTrue(error(line("x", "{\"input\": \"embed me\", \"model\": \"m\"}"), 1).contains("body.messages: expected a non-empty array"));
    assertTrue(error(line("x", "\"hello\""), 1).contains("body: expected a chat completions request object"));
    assertTrue(error(line("x", "{\"messages\": [{\"role\": \"user\"}]}"), 1).contains("body.messages[0].content: missing"));
    assertTrue(error(line("x", "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {}}]}]}"), 1)
        .contains("body.messages[0].content[0]: only {\"type\": \"text\""));
  }

  @Test
  void unknownAndUnsupportedBodyFieldsAreErrorsNotIgnored() {
    assertTrue(error(line("x", GOOD_BODY.replace("}", ", \"response_format\": {\"type\": \"json_object\"}}")), 8)
        .contains("body.response_format: unknown or unsupported"));
    assertTrue(error(line("x", GOOD_BODY.replace("\"seed\": 11", "\"seed\": 11, \"n\": 3")), 8).contains("body.n: only 1"));
    assertTrue(error(line("x", GOOD_BODY.replace("\"seed\": 11", "\"seed\": 11, \"stop\": [\"。\"]")), 8).contains("body.stop: per-request"));
    assertTrue(error(line("x", GOOD_BODY.replace("\"temperature\": 0.3", "\"temperature\": \"hot\"")), 8)
        .contains("body.temperature: expected a number, got \"hot\""));
    assertTrue(error(line("x", GOOD_BODY.replace("\"max_tokens\": 7", "\"max_tokens\": 2.5")), 8).contains("body.max_tokens: expected an integer"));
    assertTrue(error(line("x", GOOD_BODY).replace("\"body\"", "\"extra\": 1, \"body\""), 8).contains("extra: unknown field"));
  }

  @Test
  void repeatedCustomIdThroughSparkKeepsTheFirstAndNamesIt() {
    Path f = TestFiles.jsonl(dir, "b.jsonl", List.of(line("a", GOOD_BODY), "", line("b", GOOD_BODY), line("a", GOOD_BODY),
        "not json", line("c", GOOD_BODY)));
    List<Row> rows = OpenAiBatchInput.read(TestSpark.get(), f.toString()).collectAsList();
    assertEquals(5, rows.size(), "the blank line is skipped, nothing else");
    List<String> ids = rows.stream().map(r -> r.<String>getAs("id")).toList();
    assertEquals(java.util.Arrays.asList("a", "b", "a", null, "c"), ids, "file order");
    assertNull(rows.get(0).getAs(OpenAiBatchInput.ERROR));
    assertEquals("line 4: custom_id: 'a' repeats line 1 (custom_id must be unique in a batch)", rows.get(2).getAs(OpenAiBatchInput.ERROR));
    assertTrue(rows.get(3).<String>getAs(OpenAiBatchInput.ERROR).startsWith("line 5: not a JSON object"));
    assertNull(rows.get(4).getAs(OpenAiBatchInput.ERROR));
  }
}
