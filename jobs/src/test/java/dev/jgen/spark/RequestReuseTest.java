package dev.jgen.spark;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.array_union;
import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.lit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.delta.OutputSchema;
import dev.jgen.delta.RunTable;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * job.reuse (issue 29): a run copies the ok rows of earlier runs whose request is identical, and generates anew when
 * any single part of the request differs. One real run on the tiny model is the source; the other runs read its table.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RequestReuseTest {
  private static final int ROWS = 3;
  private static final int N = 2;

  @TempDir static Path dir;
  private Path input;
  private String table;

  private String[] command(Path in, String out, String runId, String... sets) {
    List<String> a = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "run.id=" + runId,
        "--set", "generation.max_new_tokens=6", "--set", "generation.n=" + N, "--set", "job.partitions=1"));
    for (String s : sets) {
      a.add("--set");
      a.add(s);
    }
    return a.toArray(String[]::new);
  }

  private static Path input(Path dir, String name, String question) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < ROWS; i++) {
      lines.add("{\"id\": \"r" + i + "\", \"prompt\": \"" + question + " " + i + " です。\"}");
    }
    return TestFiles.jsonl(dir, name, lines);
  }

  private static JsonNode ok(Cli c) {
    assertEquals(0, c.code(), c.err());
    return c.summary();
  }

  @BeforeAll
  void sourceRun() {
    input = input(dir, "in.jsonl", "再利用の確認");
    table = dir.resolve("gen").toString();
    JsonNode a = ok(Cli.run(command(input, table, "a")));
    assertEquals(ROWS * N, a.get("ok").asLong(), a.toString());
    assertEquals(0, a.get("reused").asLong(), "a new table has nothing to reuse");
  }

  private static Map<String, Row> byPair(Dataset<Row> rows) {
    Map<String, Row> m = new TreeMap<>();
    for (Row r : rows.collectAsList()) {
      m.put(r.<String>getAs("row_key") + "/" + r.<Integer>getAs("sample_index"), r);
    }
    return m;
  }

  @Test
  void anIdenticalRequestIsCopiedWithItsOriginalTextTokensAndTimings() {
    Cli c = Cli.run(command(input, table, "same"));
    JsonNode s = ok(c);
    assertEquals(ROWS * N, s.get("reused").asLong(), s.toString());
    assertEquals(0, s.get("generated_now").asLong(), "nothing generated: " + s);
    assertEquals(ROWS * N, s.get("ok").asLong(), "rows in = ok: " + s);
    assertTrue(c.out().contains("reused from earlier runs"), c.out());
    SparkSession spark = TestSpark.get();
    Dataset<Row> t = spark.read().format("delta").load(table);
    Map<String, Row> source = byPair(t.where("run_id = 'a'"));
    Map<String, Row> copied = byPair(t.where("run_id = 'same'"));
    assertEquals(source.keySet(), copied.keySet());
    for (Map.Entry<String, Row> e : copied.entrySet()) {
      Row from = source.get(e.getKey());
      Row to = e.getValue();
      for (String kept : List.of("output_text", "completion_tokens", "prompt_tokens", "finish_reason", "latency_ms",
          "engine_instance", "prompt", "params")) {
        assertEquals((Object) from.getAs(kept), to.getAs(kept), kept + " of " + e.getKey());
      }
      Row reusedFrom = to.getAs("reused_from");
      assertEquals("a", reusedFrom.getString(0));
      assertEquals(1, reusedFrom.getInt(1));
      assertEquals(1, (int) to.<Integer>getAs("attempt"));
      assertEquals("ok", to.getAs("status"));
    }
    // The same command again: the run is whole; nothing reused or generated twice.
    JsonNode again = ok(Cli.run(command(input, table, "same")));
    assertEquals(0, again.get("generated_now").asLong(), again.toString());
    assertEquals(0, again.get("reused").asLong(), again.toString());
    assertEquals(ROWS * N, t.where("run_id = 'same'").count());
  }

  /** Each request part changed through the job's own settings: the run generates every row itself. */
  @Test
  void aRequestThatDiffersInOnePartIsGeneratedAnew() {
    Map<String, String[]> cases = new LinkedHashMap<>();
    cases.put("temperature", command(input, table, "p-temperature", "generation.temperature=0.5"));
    cases.put("top_p", command(input, table, "p-top-p", "generation.top_p=0.9"));
    cases.put("top_k", command(input, table, "p-top-k", "generation.top_k=20"));
    cases.put("repetition_penalty", command(input, table, "p-rep", "generation.repetition_penalty=1.1"));
    cases.put("seed", command(input, table, "p-seed", "generation.seed=43"));
    cases.put("max_new_tokens", command(input, table, "p-max", "generation.max_new_tokens=5"));
    cases.put("stop", command(input, table, "p-stop", "generation.stop=。"));
    // The same ids, another wording: the rendered prompt differs (a column the template ignores would not).
    cases.put("rendered prompt", command(input(dir, "other-wording.jsonl", "再利用を確認"), table, "p-prompt"));
    cases.put("engine kind", command(input, table, "p-engine", "engine.kind=echo"));
    cases.put("job.reuse=false", command(input, table, "p-off", "job.reuse=false"));
    for (Map.Entry<String, String[]> e : cases.entrySet()) {
      JsonNode s = ok(Cli.run(e.getValue()));
      assertEquals(0, s.get("reused").asLong(), e.getKey() + ": " + s);
      assertEquals(ROWS * N, s.get("generated_now").asLong(), e.getKey() + ": " + s);
    }
  }

  /**
   * The key itself, part by part: a table holding the source's rows each changed in exactly one part (as an earlier run
   * with that setting would have written them), under a run named for the part. A run of the source's settings over it
   * must reuse none of them; the part a key missed is named by the run it copied from.
   */
  @Test
  void theKeyComparesEveryPartOfTheRequest() {
    SparkSession spark = TestSpark.get();
    Dataset<Row> source = spark.read().format("delta").load(table).where("run_id = 'a'");
    Map<String, Dataset<Row>> variants = new LinkedHashMap<>();
    variants.put("model_fingerprint", source.withColumn("model_fingerprint", concat(col("model_fingerprint"), lit("-other"))));
    variants.put("engine", source.withColumn("engine", lit("trtllm-serve")));
    variants.put("prompt", source.withColumn("prompt", concat(col("prompt"), lit(" "))));
    variants.put("max_new_tokens", param(source, "max_new_tokens", col("params.max_new_tokens").plus(1)));
    variants.put("temperature", param(source, "temperature", col("params.temperature").plus(0.125)));
    variants.put("top_p", param(source, "top_p", coalesce(col("params.top_p").minus(0.125), lit(0.5))));
    variants.put("top_k", param(source, "top_k", coalesce(col("params.top_k").plus(1), lit(7))));
    variants.put("repetition_penalty", param(source, "repetition_penalty",
        coalesce(col("params.repetition_penalty").plus(0.125), lit(1.25))));
    variants.put("seed", param(source, "seed", col("params.seed").plus(1)).withColumn("seed", col("seed").plus(1)));
    variants.put("stop", param(source, "stop",
        coalesce(array_union(col("params.stop"), array(lit("###"))), array(lit("###")))));
    variants.put("constraint_sha256", source.withColumn("constraint_sha256", coalesce(concat(col("constraint_sha256"), lit("0")), lit("0"))));
    variants.put("adapter_sha256", source.withColumn("adapter_sha256", lit("0".repeat(64))));
    variants.put("adapter_scale", source.withColumn("adapter_scale", lit(0.5)));
    // Sample 0's request (its seed included) under sample index 1: only the index tells them apart.
    variants.put("sample_index", source.where("sample_index = 0").withColumn("sample_index", lit(1)));
    String keyTable = dir.resolve("key").toString();
    RunTable t = RunTable.openOrCreate(spark, keyTable, OutputSchema.SPEC);
    Dataset<Row> all = null;
    for (Map.Entry<String, Dataset<Row>> v : variants.entrySet()) {
      Dataset<Row> rows = v.getValue().withColumn("run_id", lit("changed-" + v.getKey()))
          .select(java.util.Arrays.stream(OutputSchema.SCHEMA.fieldNames()).map(org.apache.spark.sql.functions::col).toArray(Column[]::new));
      all = all == null ? rows : all.unionByName(rows);
    }
    t.appendChunk(all, "changed", 1, 0, "{}");
    JsonNode s = ok(Cli.run(command(input, keyTable, "b")));
    List<String> copiedFrom = spark.read().format("delta").load(keyTable).where("run_id = 'b' and reused_from is not null")
        .select("reused_from.run_id").distinct().as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
    assertEquals(List.of(), copiedFrom, "a key that misses a part reuses the run changed in it");
    assertEquals(0, s.get("reused").asLong(), s.toString());
    assertEquals(ROWS * N, s.get("generated_now").asLong(), s.toString());
  }

  private static Dataset<Row> param(Dataset<Row> rows, String field, Column value) {
    return rows.withColumn("params", col("params").withField(field, value));
  }

  /**
   * A reusing run stopped part way (a budget) and continued by the same command: every (row, sample) once, the copies
   * once, from the attempt that copied them; the new rows generated by the attempts after.
   */
  @Test
  void aReusingRunStoppedPartWayFinishesExactlyOnce() {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < ROWS; i++) {
      lines.add("{\"id\": \"r" + i + "\", \"prompt\": \"再利用の確認 " + i + " です。\"}");
    }
    for (int i = 0; i < 4; i++) {
      lines.add("{\"id\": \"new" + i + "\", \"prompt\": \"新しい質問 " + i + " です。\"}");
    }
    Path mixed = TestFiles.jsonl(dir, "mixed.jsonl", lines);
    String[] cmd = command(mixed, table, "mixed", "job.max_completion_tokens_total=24", "engine.parallel=1",
        "job.chunks_in_flight=1", "job.chunk_rows=2");
    JsonNode first = ok(Cli.run(cmd));
    assertEquals(ROWS * N, first.get("reused").asLong(), first.toString());
    assertEquals("budget", first.path("stopped_by").asText(), "the budget stopped the first attempt: " + first);
    int attempts = 1;
    JsonNode last = first;
    while (last.has("stopped_by") && attempts < 20) {
      last = ok(Cli.run(cmd));
      assertEquals(0, last.get("reused").asLong(), "copies are made once: " + last);
      attempts++;
    }
    assertTrue(attempts > 1 && !last.has("stopped_by"), "continued to the end: " + last);
    assertEquals(lines.size() * N, last.get("ok").asLong(), last.toString());
    Dataset<Row> run = TestSpark.get().read().format("delta").load(table).where("run_id = 'mixed'");
    assertEquals(lines.size() * N, run.count(), "one row per (row, sample)");
    assertEquals(lines.size() * N, run.select("row_key", "sample_index").distinct().count());
    Dataset<Row> copies = run.where("reused_from is not null");
    assertEquals(ROWS * N, copies.count());
    assertEquals(ROWS * N, copies.where("attempt = 1").count(), "copied by the first attempt");
    assertEquals(0, copies.where("row_key like 'new%'").count(), "new rows are generated, not copied");
  }
}
