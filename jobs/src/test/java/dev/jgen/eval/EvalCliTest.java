package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evaluation modes as a user runs them: `jgen generate` with job.kind, attributes.sweep, input.dedup, and `jgen export`. */
class EvalCliTest {
  @TempDir Path dir;

  private Cli generate(String config, String... sets) {
    String[] args = new String[3 + 2 * sets.length];
    args[0] = "generate";
    args[1] = "--config";
    args[2] = TestFiles.conf().resolve("jobs/" + config).toString();
    for (int i = 0; i < sets.length; i++) {
      args[3 + 2 * i] = "--set";
      args[4 + 2 * i] = sets[i];
    }
    return Cli.run(args);
  }

  @Test
  void sweepThroughTheJobGivesSixDistinctAttributeBlocksPerPrompt() {
    Path in = TestFiles.jsonl(dir, "in.jsonl", List.of("{\"id\": \"a\", \"prompt\": \"自己紹介をしてください。\"}",
        "{\"id\": \"b\", \"prompt\": \"好きな季節は？\"}"));
    String out = dir.resolve("sweep").toString();
    Cli r = generate("sweep.yaml", "input.path=" + in, "output.path=" + out, "model.id=karakuri-lm-70b-chat-v0.1",
        "model.path=" + EvalTesting.weights(), "engine.kind=none", "input.dedup=false");
    assertEquals(0, r.code(), r.err());
    assertEquals(12, r.summary().get("rows_in").asLong());
    assertEquals(12, r.summary().get("ok").asLong());
    Map<String, Set<String>> blocks = new HashMap<>();
    Pattern attr = Pattern.compile("\\[ATTR\\](.*?)\\[/ATTR\\]");
    for (Row row : TestSpark.get().read().format("delta").load(out).collectAsList()) {
      Matcher m = attr.matcher(row.<String>getAs("prompt"));
      assertTrue(m.find());
      String base = row.<String>getAs("id").startsWith("a") ? "a" : "b";
      blocks.computeIfAbsent(base, k -> new HashSet<>()).add(m.group(1));
      Row a = row.getAs("attributes");
      assertTrue(m.group(1).contains("verbosity: " + a.getAs("verbosity")) && m.group(1).contains("humor: " + a.getAs("humor")));
    }
    assertEquals(6, blocks.get("a").size());
    assertEquals(6, blocks.get("b").size());
  }

  @Test
  void sweepOnAModelThatIgnoresAttributesIsAConfigErrorBeforeSpark() {
    String in = "input.path=" + TestFiles.conf().resolve("data/demo-prompts.jsonl");
    Cli r = generate("sweep.yaml", in, "model.id=llm-jp-3-1.8b-instruct", "engine.kind=none", "output.path=" + dir.resolve("x"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("attributes.sweep"), r.err());
    Cli bad = generate("sweep.yaml", in, "attributes.sweep.verbosity=0,5", "engine.kind=none", "output.path=" + dir.resolve("y"));
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("5"), bad.err());
  }

  @Test
  void dedupGeneratesIdenticalInstructionsOnce() {
    Path in = TestFiles.jsonl(dir, "dup.jsonl", List.of("{\"id\": \"x1\", \"prompt\": \"日本の首都は？\"}",
        "{\"id\": \"x2\", \"prompt\": \"  日本の首都は？ \"}", "{\"id\": \"x3\", \"prompt\": \"日本の首都は？\"}",
        "{\"id\": \"x4\", \"prompt\": \"別の質問\"}"));
    String out = dir.resolve("dedup").toString();
    Cli r = generate("demo.yaml", "input.path=" + in, "output.path=" + out, "input.dedup=true", "generation.max_new_tokens=4");
    assertEquals(0, r.code(), r.err());
    JsonNode s = r.summary();
    assertEquals(4, s.get("rows_in").asLong());
    assertEquals(2, s.get("ok").asLong());
    assertEquals(2, s.get("skipped").asLong());
    assertEquals(s.get("rows_in").asLong(), s.get("ok").asLong() + s.get("error").asLong() + s.get("skipped").asLong());
    Map<String, Row> rows = new HashMap<>();
    TestSpark.get().read().format("delta").load(out).collectAsList().forEach(x -> rows.put(x.getAs("id"), x));
    assertNull(rows.get("x1").getAs("duplicate_of"));
    assertEquals("x1", rows.get("x2").getAs("duplicate_of"));
    assertEquals("skipped", rows.get("x3").getAs("status"));
    assertNull(rows.get("x3").getAs("output_text"));
  }

  @Test
  void mtbenchJobAndExportFromTheCommandLine() throws Exception {
    Path in = TestFiles.jsonl(dir, "q.jsonl", Files.readAllLines(TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl")).subList(0, 2));
    String out = dir.resolve("mt").toString();
    Cli r = generate("mtbench.yaml", "input.path=" + in, "output.path=" + out, "generation.max_new_tokens=6");
    assertEquals(0, r.code(), r.err());
    assertEquals(2, r.summary().get("ok").asLong(), r.out());
    Cli e = Cli.run("export", "mtbench", "--output", out, "--to", dir.resolve("answers").toString());
    assertEquals(0, e.code(), e.err());
    List<String> lines = Files.readAllLines(dir.resolve("answers").resolve("tiny-llama-ja.jsonl"));
    assertEquals(2, lines.size());
    JsonNode first = new ObjectMapper().readTree(lines.get(0));
    assertEquals(1, first.get("question_id").asInt());
    assertEquals(2, first.get("choices").get(0).get("turns").size());
    Cli missing = Cli.run("export", "mtbench", "--output", out);
    assertEquals(2, missing.code());
  }
}
