package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The job end to end: real Spark, real Delta, real llama.cpp on the tiny model. */
class GenerateJobTest {
  @TempDir Path dir;

  private Cli generate(String... sets) {
    String[] args = new String[3 + sets.length * 2];
    args[0] = "generate";
    args[1] = "--config";
    args[2] = TestFiles.conf().resolve("jobs/demo.yaml").toString();
    for (int i = 0; i < sets.length; i++) {
      args[3 + 2 * i] = "--set";
      args[4 + 2 * i] = sets[i];
    }
    Cli r = Cli.run(args);
    assertEquals(0, r.code(), r.err());
    return r;
  }

  private static Dataset<Row> table(String path, String runId) {
    return TestSpark.get().read().format("delta").load(path).where("run_id = '" + runId + "'");
  }

  @Test
  void demoConfigEndToEnd() {
    String out = dir.resolve("gen").toString();
    Cli r = generate("input.path=" + TestFiles.conf().resolve("data/demo-prompts.jsonl"), "output.path=" + out);
    JsonNode s = r.summary();
    assertEquals(12, s.get("rows_in").asLong());
    assertEquals(12, s.get("ok").asLong());
    assertEquals(0, s.get("error").asLong());
    assertEquals(out, s.get("output").asText());
    assertTrue(s.get("completion_tokens").asLong() > 0);
    assertTrue(s.get("seconds").asDouble() > 0);
    List<Row> rows = table(out, s.get("run_id").asText()).collectAsList();
    assertEquals(12, rows.size());
    for (Row row : rows) {
      assertEquals("ok", row.getAs("status"));
      assertNull(row.getAs("error"));
      String prompt = row.getAs("prompt");
      assertTrue(prompt.startsWith("<s>") && prompt.contains("\n\n### 指示:\n") && prompt.endsWith("\n\n### 応答:\n"), prompt);
      assertTrue((Integer) row.getAs("completion_tokens") > 0);
      assertTrue(List.of("stop", "length").contains((String) row.getAs("finish_reason")));
      assertEquals("tiny-llama-ja", row.getAs("model_id"));
      Row params = row.getAs("params");
      assertEquals(row.getAs("id").equals("jp-009") ? 16 : 32, (Integer) params.getAs("max_new_tokens"));
      assertEquals(row.getAs("id").equals("jp-007") ? 0.0 : 0.7, (Double) params.getAs("temperature"));
    }
    // jp-006 has a system prompt that llm-jp-3's template drops: the summary says so.
    assertTrue(r.out().contains("ignores the system message"), r.out());
  }

  @Test
  void modelLoadedOncePerExecutorAcrossPartitions() {
    String out = dir.resolve("gen").toString();
    int loadsBefore = EngineRegistry.loads();
    long partitionsBefore = GeneratePartition.partitionsStarted();
    Cli r = generate("input.path=" + TestFiles.conf().resolve("data/demo-prompts.jsonl"), "output.path=" + out,
        "job.partitions=4", "job.chunk_rows=6", "generation.max_new_tokens=8");
    long partitions = GeneratePartition.partitionsStarted() - partitionsBefore;
    assertTrue(partitions >= 8, "2 chunks x 4 partitions ran, saw " + partitions);
    assertTrue(EngineRegistry.loads() - loadsBefore <= 1, "loads: " + (EngineRegistry.loads() - loadsBefore));
    Dataset<Row> rows = table(out, r.summary().get("run_id").asText());
    assertEquals(1, rows.select("engine_instance").distinct().count(), "one engine instance served every partition");
    assertEquals(1, rows.select("executor_id").distinct().count());
  }

  @Test
  void badRowsAreErrorRowsAndCountsAddUp() {
    Path in = TestFiles.jsonl(dir, "bad.jsonl", List.of(
        "{\"id\": \"ok1\", \"prompt\": \"こんにちは\"}",
        "{\"prompt\": \"no id\"}",
        "{\"id\": \"\", \"prompt\": \"empty id\"}",
        "{\"id\": \"d1\", \"prompt\": \"first\"}",
        "{\"id\": \"d1\", \"prompt\": \"second\"}",
        "{\"id\": \"n1\", \"prompt\": null}",
        "{\"id\": \"e1\", \"prompt\": \"\"}",
        "{\"id\": \"m0\"}",
        "{\"id\": \"t1\", \"prompt\": \"x\", \"temperature\": -1}",
        "{\"id\": \"p1\", \"prompt\": \"x\", \"top_p\": 2}",
        "{\"id\": \"k1\", \"prompt\": \"x\", \"max_new_tokens\": 0}",
        "{\"id\": \"a1\", \"prompt\": \"x\", \"verbosity\": 7}",
        "{broken json",
        "{\"id\": \"ok2\", \"messages\": [{\"role\": \"user\", \"content\": \"元気？\"}]}",
        "{\"id\": \"r1\", \"messages\": [{\"role\": \"user\"}]}"));
    Cli r = generate("input.path=" + in, "output.path=" + dir.resolve("gen"), "generation.max_new_tokens=8");
    JsonNode s = r.summary();
    assertEquals(15, s.get("rows_in").asLong());
    assertEquals(s.get("rows_in").asLong(), s.get("ok").asLong() + s.get("error").asLong());
    assertEquals(3, s.get("ok").asLong(), r.out());
    Map<Long, Row> byRow = new HashMap<>();
    table(dir.resolve("gen").toString(), s.get("run_id").asText()).collectAsList().forEach(x -> byRow.put(x.getAs("input_row"), x));
    assertEquals(15, byRow.size());
    assertError(byRow.get(1L), "input row 1: missing or empty id");
    assertError(byRow.get(2L), "input row 2: missing or empty id");
    assertEquals("ok", byRow.get(3L).getAs("status"));
    assertError(byRow.get(4L), "duplicate id 'd1' (first at input row 3)");
    assertError(byRow.get(5L), "neither prompt nor messages is set");
    assertError(byRow.get(6L), "prompt is empty");
    assertError(byRow.get(7L), "neither prompt nor messages is set");
    assertError(byRow.get(8L), "column temperature: must be >= 0.0 (got -1)");
    assertError(byRow.get(9L), "column top_p: must be in (0, 1] (got 2)");
    assertError(byRow.get(10L), "column max_new_tokens: must be > 0 (got 0)");
    assertError(byRow.get(11L), "attribute verbosity: 7 is not an integer 0-4");
    assertError(byRow.get(12L), "input line is not a valid JSON object");
    assertEquals("ok", byRow.get(13L).getAs("status"));
    assertError(byRow.get(14L), "messages[0] (user) has no content");
    assertTrue(r.out().contains("--status error"), "the summary points at the error rows");
  }

  private static void assertError(Row row, String message) {
    assertEquals("error", row.getAs("status"), String.valueOf(row));
    assertEquals(message, row.getAs("error"));
  }

  @Test
  void greedyAndSeededSamplingAreRepeatable() {
    String in = TestFiles.conf().resolve("data/demo-prompts.jsonl").toString();
    // With the prefix cache off (issue 28): the second run's rows would start from the first run's cells still cached in
    // the shared engine, laid out differently from a fresh decode, and on these prompts the attention's rounding then
    // flips greedy picks (seen: 4 of 12 rows; docs/nativecpu.md, prefix cache). Repeatability across run shapes is a
    // property of the cache-off engine.
    Map<String, String> greedy1 = texts(generate("input.path=" + in, "output.path=" + dir.resolve("g1"), "generation.temperature=0",
        "generation.max_new_tokens=12", "run.id=greedy-a", "engine.prefix_cache=false"), dir.resolve("g1"));
    Map<String, String> greedy2 = texts(generate("input.path=" + in, "output.path=" + dir.resolve("g2"), "generation.temperature=0",
        "generation.max_new_tokens=12", "run.id=greedy-b", "job.partitions=3", "engine.prefix_cache=false"), dir.resolve("g2"));
    assertEquals(greedy1, greedy2);
    // Seeded sampling repeats exactly when sequences are decoded one at a time (and, as above, from no cached cells):
    // with continuous batching, which rows
    // share a decode step changes the low bits of the logits, and a sampled token can follow them (README: determinism).
    Map<String, String> seeded1 = texts(generate("input.path=" + in, "output.path=" + dir.resolve("s1"), "generation.temperature=1.0",
        "generation.seed=5", "generation.max_new_tokens=12", "run.id=seeded-a", "engine.parallel=1", "engine.prefix_cache=false"), dir.resolve("s1"));
    Map<String, String> seeded2 = texts(generate("input.path=" + in, "output.path=" + dir.resolve("s2"), "generation.temperature=1.0",
        "generation.seed=5", "generation.max_new_tokens=12", "run.id=seeded-b", "engine.parallel=1", "engine.prefix_cache=false", "job.partitions=3"),
        dir.resolve("s2"));
    assertEquals(seeded1, seeded2);
    Map<String, String> other = texts(generate("input.path=" + in, "output.path=" + dir.resolve("s3"), "generation.temperature=1.0",
        "generation.seed=6", "generation.max_new_tokens=12", "run.id=seeded-c", "engine.parallel=1", "engine.prefix_cache=false"), dir.resolve("s3"));
    assertNotEquals(seeded1, other, "another seed samples other text");
  }

  @Test
  void dryRunWritesPromptsAndTokenIdsAsRenderDoes() throws Exception {
    String out = dir.resolve("dry").toString();
    Cli r = generate("input.path=" + TestFiles.conf().resolve("data/demo-prompts.jsonl"), "output.path=" + out, "engine.kind=none");
    assertEquals(12, r.summary().get("ok").asLong());
    assertTrue(r.summary().get("prompt_tokens").asLong() > 0, "token totals");
    Row row = table(out, r.summary().get("run_id").asText()).where("id = 'jp-001'").first();
    assertNull(row.getAs("output_text"));
    Path in = TestFiles.jsonl(dir, "render.jsonl", List.of("{\"id\": \"jp-001\", \"messages\": [{\"role\": \"user\", "
        + "\"content\": \"日本の首都はどこですか？\"}], \"add_generation_prompt\": true}"));
    Path rendered = dir.resolve("render.out.jsonl");
    assertEquals(0, Cli.run("render", "--model", "tiny-llama-ja", "--in", in.toString(), "--out", rendered.toString()).code());
    JsonNode line = new com.fasterxml.jackson.databind.ObjectMapper().readTree(java.nio.file.Files.readAllLines(rendered).get(0));
    assertEquals(line.get("prompt").asText(), row.getAs("prompt"));
    List<Integer> ids = new java.util.ArrayList<>();
    line.get("token_ids").forEach(t -> ids.add(t.asInt()));
    assertEquals(ids, row.getList(row.fieldIndex("prompt_token_ids")));
    assertEquals(ids.size(), (Integer) row.getAs("prompt_tokens"));
  }

  private static Map<String, String> texts(Cli r, Path table) {
    Map<String, String> m = new HashMap<>();
    for (Row row : table(table.toString(), r.summary().get("run_id").asText()).collectAsList()) {
      m.put(row.getAs("id"), row.getAs("output_text"));
    }
    assertEquals(12, m.size());
    return m;
  }
}
