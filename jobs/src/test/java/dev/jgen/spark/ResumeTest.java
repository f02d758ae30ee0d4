package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.prompt.HfTokenizer;
import dev.jgen.prompt.PromptSpecs;
import dev.jgen.testing.ChildJob;
import dev.jgen.testing.Cli;
import dev.jgen.testing.Signals;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestModels;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs that survive a SIGKILL, resume without duplicates, retry only errors, and record what they did. */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class ResumeTest {
  @TempDir Path dir;

  private Path input(int rows, boolean withBad) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      lines.add(withBad && i % 5 == 4
          ? "{\"id\": \"q" + i + "\", \"prompt\": \"悪い行\", \"top_p\": 7}"
          : "{\"id\": \"q" + i + "\", \"prompt\": \"質問 " + i + " について教えてください。\"}");
    }
    return TestFiles.jsonl(dir, "in.jsonl", lines);
  }

  private String[] args(Path in, String out, String... extra) {
    List<String> a = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "generation.max_new_tokens=24",
        "--set", "generation.n=2", "--set", "job.chunk_rows=6"));
    for (String e : extra) {
      a.add("--set");
      a.add(e);
    }
    return a.toArray(String[]::new);
  }

  @Test
  void killedJobResumesWithoutLossOrDuplicates() throws Exception {
    Path in = input(30, false);
    String out = dir.resolve("gen").toString();
    // Chunks of 4 (row, sample) pairs: 15 chunks, each its own Delta commit, so the child cannot reach its last chunk in
    // the moment between the first commit and the signal below (it would have to commit 14 more).
    String[] a = args(in, out, "job.chunk_rows=4");
    // An earlier run of the table answered the first 6 rows' requests: the killed job copies those 12 pairs first, in
    // its reuse commit (job.reuse), so the kill and the resume also cover a run that reused.
    List<String> firstSix = new ArrayList<>(Files.readAllLines(in).subList(0, 6));
    Cli source = Cli.run(args(TestFiles.jsonl(dir, "source.jsonl", firstSix), out, "job.chunk_rows=12", "run.id=source"));
    assertEquals(0, source.code(), source.err());
    long sourceVersion = io.delta.tables.DeltaTable.forPath(TestSpark.get(), out).history(1).first().getLong(0);
    Process child = ChildJob.start(dir.resolve("child.log"), a);
    // Wait for the reuse commit and the first chunk commit after it, then SIGKILL the whole job.
    assertTrue(Signals.await(180_000, child, () -> Files.exists(Signals.commit(out, sourceVersion + 2))),
        "the child committed its copies and a chunk: " + Signals.read(dir.resolve("child.log")));
    child.destroyForcibly();
    assertTrue(child.waitFor(30, TimeUnit.SECONDS));
    Dataset<Row> before = TestSpark.get().read().format("delta").load(out).where("run_id != 'source'");
    long committed = before.count();
    assertTrue(committed > 12 && committed < 60, "killed mid-run, after " + committed + " rows (12 of them copies)");
    assertEquals(12, before.where("reused_from.run_id = 'source' and reused_from.attempt = 1").count(), "the copies");
    long versionBefore = io.delta.tables.DeltaTable.forPath(TestSpark.get(), out).history(1).first().getLong(0);

    Cli r = Cli.run(a);
    assertEquals(0, r.code(), r.err());
    JsonNode s = r.summary();
    assertEquals(30, s.get("rows_in").asLong());
    assertEquals(60, s.get("ok").asLong());
    assertEquals(0, s.get("error").asLong());
    assertEquals(60 - committed, s.get("generated_now").asLong(), "committed chunks were not generated again");
    String run = s.get("run_id").asText();
    Dataset<Row> all = TestSpark.get().read().format("delta").load(out).where("run_id = '" + run + "'");
    assertEquals(60, all.count(), "exactly one row per (id, sample_index)");
    assertEquals(60, all.select("id", "sample_index").distinct().count());
    assertEquals(committed, all.where("attempt = 1").count(), "the first attempt's rows stay as they were");
    assertEquals(12, all.where("reused_from is not null").count(), "the copies once, none made again by the resume");
    assertEquals(0, s.get("reused").asLong(), s.toString());
    // Change data feed from after the crash: exactly the rows the resume added.
    long cdf = TestSpark.get().read().format("delta").option("readChangeFeed", "true").option("startingVersion", versionBefore + 1)
        .load(out).where("_change_type = 'insert'").count();
    assertEquals(60 - committed, cdf);
    // The runs table knows both attempts: the killed one never finished, the resume did with the table's counts.
    Cli runs = Cli.run("runs", "--output", out);
    assertEquals(0, runs.code(), runs.err());
    assertTrue(runs.out().contains(run), runs.out());
    assertTrue(runs.out().matches("(?s).*" + run + "\\s+60\\s+60\\s+0\\s+2.*"), runs.out());
    assertTrue(runs.out().matches("(?s).*" + run + "\\s+1\\s+running.*") , "the killed attempt stays as it was: " + runs.out());
    assertTrue(runs.out().matches("(?s).*" + run + "\\s+2\\s+finished.*30\\s+60\\s+0.*"), runs.out());
  }

  @Test
  void commitsComeByTimeAndAKillLosesOnlyTheUncommittedRows() throws Exception {
    Path in = input(120, false);
    String out = dir.resolve("timed").toString();
    // Chunks far larger than the input: any commit before the end can only come from job.commit_interval_s.
    String[] a = args(in, out, "job.chunk_rows=100000", "job.commit_interval_s=1", "engine.parallel=1",
        "generation.max_new_tokens=48");
    Process child = ChildJob.start(dir.resolve("timed.log"), a);
    Path secondCommit = Path.of(out, "_delta_log", "00000000000000000002.json");
    long deadline = System.currentTimeMillis() + 240_000;
    while (!Files.exists(secondCommit) && child.isAlive() && System.currentTimeMillis() < deadline) {
      Thread.sleep(50);
    }
    assertTrue(Files.exists(secondCommit), "two commits by time: " + Files.readString(dir.resolve("timed.log")));
    child.destroyForcibly();
    assertTrue(child.waitFor(30, TimeUnit.SECONDS));
    long committed = TestSpark.get().read().format("delta").load(out).count();
    assertTrue(committed > 0 && committed < 240, "killed mid-run, after " + committed + " of 240 rows");

    Cli r = Cli.run(a);
    assertEquals(0, r.code(), r.err());
    JsonNode s = r.summary();
    assertEquals(240, s.get("ok").asLong());
    assertEquals(240 - committed, s.get("generated_now").asLong(), "committed rows were not generated again");
    Dataset<Row> all = TestSpark.get().read().format("delta").load(out).where("run_id = '" + s.get("run_id").asText() + "'");
    assertEquals(240, all.count(), "exactly one row per (id, sample_index)");
    assertEquals(240, all.select("id", "sample_index").distinct().count());
    assertEquals(committed, all.where("attempt = 1").count(), "the first attempt's rows stay as they were");
  }

  @Test
  void retryErrorsTouchesOnlyErrorRows() {
    Path in = input(10, true);
    String out = dir.resolve("gen").toString();
    JsonNode first = Cli.run(args(in, out, "generation.n=1")).summary();
    assertEquals(2, first.get("error").asLong());
    Cli again = Cli.run(args(in, out, "generation.n=1"));
    assertEquals(0, again.summary().get("generated_now").asLong(), "a plain re-run finds nothing to do");
    String[] retry = args(in, out, "generation.n=1");
    String[] withFlag = java.util.Arrays.copyOf(retry, retry.length + 1);
    withFlag[retry.length] = "--retry-errors";
    JsonNode s = Cli.run(withFlag).summary();
    assertEquals(2, s.get("generated_now").asLong());
    Dataset<Row> rows = TestSpark.get().read().format("delta").load(out);
    assertEquals(12, rows.count(), "10 rows + 2 retried error rows as a new attempt");
    assertEquals(2, rows.where("attempt = 3").count());
    assertEquals(0, rows.where("attempt = 3 AND status = 'ok'").count());
    assertEquals(8, rows.where("attempt = 1 AND status = 'ok'").count(), "ok rows untouched");
    Cli show = Cli.run("show", "--output", out, "--status", "error", "--format", "jsonl");
    assertEquals(2, show.out().lines().count(), show.out());
    assertTrue(show.out().contains("column top_p: must be in (0, 1] (got 7)"), show.out());
  }

  @Test
  void samplesDifferAndOneSampleRegeneratesAlone() {
    Path in = TestFiles.jsonl(dir, "one.jsonl", List.of("{\"id\": \"s1\", \"prompt\": \"短い物語を書いてください。\"}"));
    String out = dir.resolve("gen").toString();
    // Without the prefix cache: with it, the regeneration below would start from the run's own cached cells, computed in
    // another batch, and a sampled token may follow their rounding (docs/data.md, Determinism).
    JsonNode s = Cli.run(args(in, out, "generation.n=3", "generation.temperature=1.0", "generation.seed=11",
        "engine.prefix_cache=false")).summary();
    assertEquals(3, s.get("ok").asLong());
    List<Row> rows = TestSpark.get().read().format("delta").load(out).orderBy("sample_index").collectAsList();
    assertEquals(3, new HashSet<>(rows.stream().map(r -> (String) r.getAs("output_text")).toList()).size(), "three different samples");
    assertEquals(3, new HashSet<>(rows.stream().map(r -> (Long) r.getAs("seed")).toList()).size());
    // Sample 2 alone, from what its row stores: the prompt, the effective parameters and the seed.
    Row r = rows.get(2);
    Row p = r.getAs("params");
    SamplingParams params = new SamplingParams(p.getAs("max_new_tokens"), p.getAs("temperature"), p.getAs("top_p"), p.getAs("top_k"),
        p.getAs("repetition_penalty"), p.getAs("seed"), List.of());
    byte[] tok = TestModels.read(TestModels.tinyTokenizer()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    int[] ids = HfTokenizer.shared(PromptSpecs.sha256(tok), tok).encode(r.getAs("prompt"));
    var engine = EngineRegistry.shared(new EngineSpec("llamacpp", TestModels.tinyDir().resolve("model.gguf").toString(),
        Map.of("threads", "0", "parallel", "2", "ctx_size", "2048", "prefix_cache", "false")));
    String again = engine.submit(new CompletionRequest("again", r.getAs("prompt"), ids, params)).join().text();
    assertEquals(r.getAs("output_text"), again);
    assertNotEquals(rows.get(1).getAs("output_text"), again);
  }

  @Test
  void changedSettingsUnderTheSameRunIdAreRefusedUnlessNew() {
    Path in = input(4, false);
    String out = dir.resolve("gen").toString();
    assertEquals(0, Cli.run(args(in, out, "run.id=daily", "generation.n=1")).code());
    Cli changed = Cli.run(args(in, out, "run.id=daily", "generation.n=1", "generation.temperature=0.1"));
    assertEquals(1, changed.code());
    assertTrue(changed.err().contains("run daily was made with other settings") && changed.err().contains("run.mode=new"), changed.err());
    Cli replaced = Cli.run(args(in, out, "run.id=daily", "generation.n=1", "generation.temperature=0.1", "run.mode=new"));
    assertEquals(0, replaced.code(), replaced.err());
    assertEquals(4, replaced.summary().get("ok").asLong());
    assertEquals(4, TestSpark.get().read().format("delta").load(out).count(), "the run's old rows were replaced");
  }

  @Test
  void growingInputProcessesOnlyNewIdsAndReportsVanishedOnes() {
    String out = dir.resolve("gen").toString();
    Path in = TestFiles.jsonl(dir, "daily.jsonl", List.of("{\"id\": \"a\", \"prompt\": \"一\"}", "{\"id\": \"b\", \"prompt\": \"二\"}"));
    JsonNode day1 = Cli.run(args(in, out, "run.id=daily", "generation.n=1")).summary();
    assertEquals(2, day1.get("generated_now").asLong());
    TestFiles.jsonl(dir, "daily.jsonl", List.of("{\"id\": \"b\", \"prompt\": \"二\"}", "{\"id\": \"c\", \"prompt\": \"三\"}",
        "{\"id\": \"d\", \"prompt\": \"四\"}"));
    JsonNode day2 = Cli.run(args(in, out, "run.id=daily", "generation.n=1", "output.optimize=true")).summary();
    assertEquals(2, day2.get("generated_now").asLong(), "only c and d are new");
    assertEquals(1, day2.get("missing_from_input").asLong(), "a vanished from the input");
  }
}
