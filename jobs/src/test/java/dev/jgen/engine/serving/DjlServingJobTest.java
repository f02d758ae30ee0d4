package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import dev.jgen.testing.djl.DjlServingStandIn;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** engine.kind=djl-serving through the whole job (real Spark, real Delta) against the stand-in server. */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class DjlServingJobTest {
  @TempDir Path dir;

  static Cli generate(String... sets) {
    List<String> args = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "engine.kind=djl-serving"));
    for (String s : sets) {
      args.add("--set");
      args.add(s);
    }
    Cli r = Cli.run(args.toArray(String[]::new));
    assertEquals(0, r.code(), r.err() + r.out());
    return r;
  }

  static Dataset<Row> table(String path, String runId) {
    return TestSpark.get().read().format("delta").load(path).where("run_id = '" + runId + "'");
  }

  static DjlServingStandIn standIn(int batch, long stepMs, double share503, double shareDropped) throws Exception {
    DjlServingStandIn.Options o = new DjlServingStandIn.Options();
    o.batch = batch;
    o.stepMillis = stepMs;
    o.share503 = share503;
    o.shareDropped = shareDropped;
    return DjlServingStandIn.start(o);
  }

  /** Waits (at most two minutes) until the shared session runs no job; else fails naming the jobs still running. */
  static void awaitNoActiveSparkJobs() throws InterruptedException {
    var tracker = org.apache.spark.api.java.JavaSparkContext.fromSparkContext(TestSpark.get().sparkContext()).statusTracker();
    long until = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(2);
    while (tracker.getActiveJobIds().length > 0) {
      if (System.nanoTime() > until) {
        List<String> running = new ArrayList<>();
        for (int id : tracker.getActiveJobIds()) {
          var job = tracker.getJobInfo(id);
          for (int stage : job == null ? new int[0] : job.stageIds()) {
            var info = tracker.getStageInfo(stage);
            running.add("job " + id + " stage " + stage + (info == null ? "" : " " + info.name()));
          }
        }
        org.junit.jupiter.api.Assertions.fail("Spark jobs of earlier tests still run after 2 minutes: " + running);
      }
      Thread.sleep(100);
    }
  }

  /** n prompts, with per-row max_new_tokens cycling through the given lengths. */
  static Path prompts(Path dir, int n, int... lengths) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String extra = lengths.length == 0 ? "" : ", \"max_new_tokens\": " + lengths[i % lengths.length];
      lines.add("{\"id\": \"r" + i + "\", \"prompt\": \"日本の首都について" + i + "文で説明してください。\"" + extra + "}");
    }
    return TestFiles.jsonl(dir, "prompts.jsonl", lines);
  }

  @Test
  void endpointModeEndToEndWithoutDoubleBosAndWithMaxNewTokens() throws Exception {
    try (DjlServingStandIn s = standIn(4, 5, 0, 0)) {
      String out = dir.resolve("gen").toString();
      Cli r = generate("input.path=" + TestFiles.conf().resolve("data/demo-prompts.jsonl"), "output.path=" + out,
          "engine.djl.endpoints=" + s.url(), "engine.djl.max_rolling_batch_size=4");
      JsonNode sum = r.summary();
      assertEquals(12, sum.get("rows_in").asLong());
      assertEquals(12, sum.get("ok").asLong(), r.out());
      List<Row> rows = table(out, sum.get("run_id").asText()).collectAsList();
      assertEquals(12, rows.size());
      for (Row row : rows) {
        assertEquals("ok", row.getAs("status"), String.valueOf(row));
        assertEquals("djl-serving", row.getAs("engine"));
        assertTrue(((String) row.getAs("engine_version")).contains("/invocations"));
        assertFalse(((String) row.getAs("output_text")).isEmpty(), String.valueOf(row));
        assertTrue((Integer) row.getAs("completion_tokens") > 0);
        assertTrue(List.of("stop", "length").contains((String) row.getAs("finish_reason")));
        assertTrue(((String) row.getAs("prompt")).startsWith("<s>"), "the stored prompt is the template's, BOS text included");
      }
      // What the server received: one request per row, no BOS text (the server adds BOS), max_new_tokens always.
      List<DjlServingStandIn.Received> got = s.received();
      assertEquals(12, got.size());
      for (DjlServingStandIn.Received q : got) {
        assertEquals("/invocations", q.path());
        String inputs = q.body().path("inputs").asText();
        assertFalse(inputs.startsWith("<s>"), "double BOS: " + inputs);
        assertFalse(inputs.isEmpty());
        JsonNode p = q.body().path("parameters");
        assertTrue(p.has("max_new_tokens"), q.body().toString());
        assertTrue(p.get("max_new_tokens").asInt() == 32 || p.get("max_new_tokens").asInt() == 16, q.body().toString());
        assertTrue(p.get("details").asBoolean());
        assertFalse(p.get("return_full_text").asBoolean());
        assertTrue(p.has("seed"));
        assertEquals(p.has("temperature"), p.get("do_sample").asBoolean(), q.body().toString());
      }
      assertTrue(got.stream().anyMatch(q -> !q.body().path("parameters").get("do_sample").asBoolean()),
          "jp-007 is greedy: do_sample false");
    }
  }

  @Test
  void faultsEndAsOkOrErrorRowsNoneLostNoneDuplicated() throws Exception {
    faults("invocations");
  }

  /** The OpenAI completions wire (vLLM LMI, trtllm-serve) through the whole job, with 503s and dropped connections. */
  @Test
  void faultsOnTheOpenAiWireEndAsOkOrErrorRowsNoneLostNoneDuplicated() throws Exception {
    faults("openai");
  }

  private void faults(String api) throws Exception {
    try (DjlServingStandIn s = standIn(4, 2, 0.30, 0.05)) {
      String out = dir.resolve("gen").toString();
      Cli r = generate("input.path=" + prompts(dir, 40), "output.path=" + out, "engine.djl.endpoints=" + s.url(),
          "engine.djl.api=" + api,
          "engine.djl.max_rolling_batch_size=4", "engine.djl.retries=1", "generation.max_new_tokens=6", "job.partitions=4");
      JsonNode sum = r.summary();
      assertEquals(40, sum.get("rows_in").asLong());
      assertEquals(40, sum.get("ok").asLong() + sum.get("error").asLong(), r.out());
      assertTrue(sum.get("ok").asLong() > 0);
      Dataset<Row> t = table(out, sum.get("run_id").asText());
      List<Row> rows = t.collectAsList();
      assertEquals(40, rows.size());
      assertEquals(40, t.select("row_key", "sample_index").distinct().count(), "no (row_key, sample_index) twice");
      Map<String, String> status = new HashMap<>();
      for (Row row : rows) {
        status.put(row.getAs("id"), row.getAs("status"));
        if ("error".equals(row.getAs("status"))) {
          String e = row.getAs("error");
          assertNotNull(e);
          assertTrue(e.contains("DJL Serving at " + s.url()) && (e.contains("HTTP 503") || e.contains("IOException")
              || e.contains("EOF") || e.contains("closed") || e.contains("Exception")), e);
        } else {
          assertFalse(((String) row.getAs("output_text")).isEmpty());
        }
      }
      assertEquals(40, status.size());
      DjlServingStandIn.Metrics m = s.metrics();
      assertTrue(m.injected503() > 0 && m.dropped() > 0, m.toString());
      assertTrue(s.received().size() > 40, "failed calls were retried");
      String path = api.equals("openai") ? "/v1/completions" : "/invocations";
      assertTrue(s.received().stream().allMatch(q -> q.path().equals(path)), "all on " + path);
    }
  }

  @Test
  void windowStaysFullAcrossPartitionBoundaries() throws Exception {
    int batch = 4;
    try (DjlServingStandIn s = standIn(batch, 20, 0, 0)) {
      String out = dir.resolve("gen").toString();
      // 4 partitions of 24 rows on 2 task slots. The window is the batch plus 2 queued at the server (as a real
      // deployment should set it): a sequence that ends is replaced at the very next step, and each task keeps
      // 2 x 6 rows in flight, which covers the other task's partition boundary.
      int window = batch + 2;
      Cli r = generate("input.path=" + prompts(dir, 96, 8, 24, 12, 20, 16), "output.path=" + out,
          "engine.djl.endpoints=" + s.url(), "engine.djl.max_rolling_batch_size=" + batch, "engine.djl.window=" + window,
          "job.partitions=4", "job.chunk_rows=1000");
      assertEquals(96, r.summary().get("ok").asLong(), r.out());
      DjlServingStandIn.Metrics m = s.metrics();
      List<Integer> trace = s.inFlightTrace();
      int first = -1;
      int last = -1;
      for (int i = 0; i < trace.size(); i++) {
        if (trace.get(i) >= batch) {
          first = first < 0 ? i : first;
          last = i;
        }
      }
      assertTrue(first >= 0, "never " + batch + " in flight: " + m);
      long gaps = trace.subList(first, last + 1).stream().filter(n -> n < batch).count();
      int longestDip = 0;
      for (int i = first, run = 0; i <= last; i++) {
        run = trace.get(i) < batch ? run + 1 : 0;
        longestDip = Math.max(longestDip, run);
      }
      String msg = m + ", full from step " + first + " to " + last + " of " + trace.size() + ", " + gaps
          + " steps below, longest dip " + longestDip + ": " + trace;
      System.out.println("window test: " + m + ", full from step " + first + " to " + last + ", " + gaps
          + " steps below, longest dip " + longestDip);
      assertEquals(window, m.maxInFlight(), "the window bounds what is in flight: " + msg);
      assertTrue(m.fullFraction() >= 0.75, msg);
      // Two partition boundaries (task 1 -> 3, task 2 -> 4) fall between the first and the last full step. A drain
      // there would show as a dip of dozens of steps (a task boundary costs about a second here); single-step dips
      // are a response and its replacement straddling a step.
      assertTrue(longestDip <= 10, msg);
      assertTrue(gaps <= (last - first) / 10, msg);
    }
  }

  @Test
  void rowsWithTheLargestBudgetStartFirstOverTheTasksReadAhead() throws Exception {
    // One server taking one request at a time (window 1): requests arrive in the order the task starts them. With
    // job.longest_first=false that is the task's input order (the chunk's shuffle decides it, not the file); with the
    // default the task's read-ahead grows to 2 rows (its window: twice the engine's capacity) after the first two, and
    // from then on it starts the larger budget of the two rows it holds.
    DjlServingStandIn.Options o = DjlServingStandIn.Options.synthetic(1, 1);
    Path in = prompts(dir, 6, 8, 48, 16, 40, 24, 32);
    List<Integer> inputOrder = arrivals(o, in, false);
    assertEquals(List.of(8, 16, 24, 32, 40, 48), inputOrder.stream().sorted().toList(), "every row once: " + inputOrder);
    List<Integer> expected = new ArrayList<>();
    List<Integer> held = new ArrayList<>();
    for (int budget : inputOrder) {
      held.add(budget);
      if (held.size() == Math.min(2, 1 + expected.size() / 2)) {
        expected.add(held.remove(held.indexOf(java.util.Collections.max(held))));
      }
    }
    expected.addAll(held);
    assertFalse(expected.equals(inputOrder), "the read-ahead must change this order: " + inputOrder);
    assertEquals(expected, arrivals(o, in, true), "largest budget first over up to 2 rows, from the task's input order "
        + inputOrder);
  }

  /** The max_new_tokens of each request in the order the stand-in received them, for one whole run. */
  private List<Integer> arrivals(DjlServingStandIn.Options o, Path in, boolean longestFirst) throws Exception {
    try (DjlServingStandIn s = DjlServingStandIn.start(o)) {
      String out = dir.resolve("gen-" + longestFirst).toString();
      Cli r = generate("input.path=" + in, "output.path=" + out, "engine.djl.endpoints=" + s.url(),
          "engine.djl.max_rolling_batch_size=1", "engine.djl.window=1", "job.partitions=1", "job.longest_first=" + longestFirst);
      assertEquals(6, r.summary().get("ok").asLong(), r.out());
      assertEquals(6, table(out, r.summary().get("run_id").asText()).count(), "every row once");
      return s.received().stream().map(x -> x.body().path("parameters").path("max_new_tokens").asInt()).toList();
    }
  }

  @Test
  void theNextChunkStartsWhileTheLastOneStillGenerates() throws Exception {
    int batch = 4;
    // Chunk 2 needs the session's second task slot while chunk 1's task holds the first: a job an earlier test left
    // running in this JVM's shared session would hold it, and chunk 2 would start only when chunk 1 ends (seen once
    // in a full run). The earlier tests' jobs are not this test's subject: wait until the session is idle.
    awaitNoActiveSparkJobs();
    try (DjlServingStandIn s = standIn(batch, 100, 0, 0)) {
      String out = dir.resolve("gen").toString();
      // One chunk in flight, 4 rows each, every row 150 tokens (15 s at 100 ms a step). Chunk 1's task starts all its
      // rows at once and then has no input left: the driver hears it from the heartbeat and starts chunk 2, whose
      // first request joins the server's queue (window 5 = batch 4 plus a quarter) while chunk 1's rows still
      // generate. Starting chunk 2 only after chunk 1 ended and committed would leave at most 4 in flight until then.
      Cli r = generate("input.path=" + prompts(dir, 8, 150), "output.path=" + out, "engine.djl.endpoints=" + s.url(),
          "engine.djl.max_rolling_batch_size=" + batch, "generation.max_new_tokens=150", "job.chunks_in_flight=1",
          "job.chunk_rows=4", "job.partitions=1");
      assertEquals(8, r.summary().get("ok").asLong(), r.out());
      assertEquals(8, table(out, r.summary().get("run_id").asText()).count(), "every row once");
      List<Integer> trace = s.inFlightTrace();
      int full = 0; // chunk 1's rows all arrived
      while (full < trace.size() && trace.get(full) < batch) {
        full++;
      }
      int firstChunkEnds = full; // then the first step with fewer than the batch in flight: chunk 1's rows finished
      while (firstChunkEnds < trace.size() && trace.get(firstChunkEnds) >= batch) {
        firstChunkEnds++;
      }
      int most = trace.subList(0, firstChunkEnds).stream().max(Integer::compare).orElse(0);
      assertEquals(batch + 1, most, "chunk 2 queued at the server before chunk 1's rows ended (step " + firstChunkEnds
          + "): " + trace);
    }
  }
}
