package dev.jgen.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.sum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Budgets and deadlines stop an attempt early and cleanly: no new row starts, rows in flight finish within
 * job.stop_grace_s (or are cancelled and never written), what finished is committed, exit 0 with stopped_by; the same
 * command continues the run with a fresh budget until it is whole, each (row, sample) exactly once.
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class BudgetAndDeadlineTest {
  /** Rows in flight at most: engine.parallel=2 gives a window of 4 per task, one task (job.partitions=1). */
  private static final int WINDOW = 4;
  private static final int MAX_NEW = 16;

  @TempDir Path dir;

  private String[] command(Path in, String out, String... sets) {
    List<String> a = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "run.id=budget",
        "--set", "generation.max_new_tokens=" + MAX_NEW, "--set", "generation.temperature=0", "--set", "engine.parallel=2",
        "--set", "job.partitions=1", "--set", "job.chunks_in_flight=1", "--set", "job.chunk_rows=8"));
    for (String s : sets) {
      a.add("--set");
      a.add(s);
    }
    return a.toArray(String[]::new);
  }

  private Path input(int rows) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      lines.add("{\"id\": \"b" + i + "\", \"prompt\": \"予算の確認 " + i + " について長めに説明してください。\"}");
    }
    return TestFiles.jsonl(dir, "in-" + rows + ".jsonl", lines);
  }

  @Test
  void aTokenBudgetStopsNearItsCapAndTheSameCommandFinishesTheRunExactlyOnce() {
    Path in = input(40);
    String out = dir.resolve("gen").toString();
    long budget = 120;
    String[] cmd = command(in, out, "job.max_completion_tokens_total=" + budget);
    Cli first = Cli.run(cmd);
    assertEquals(0, first.code(), first.err());
    JsonNode s = first.summary();
    assertEquals("budget", s.get("stopped_by").asText(), s.toString());
    assertTrue(s.get("left").asLong() > 0, s.toString());
    long spent = tokensOfAttempt(out, 1);
    assertTrue(spent >= budget, "the attempt spent its budget: " + spent);
    assertTrue(spent <= budget + WINDOW * MAX_NEW, "stopped within one window of rows past the cap: " + spent);
    assertTrue(first.err().contains("budget ") && first.err().contains("/" + budget + " completion tokens"),
        "progress shows the budget used: " + first.err());
    Row run = TestSpark.get().read().format("delta").load(out + "_runs").where("attempt = 1 and ended_at is not null").first();
    assertEquals("stopped", run.getAs("status"));

    // The same command, again and again: each attempt a fresh budget, until the run is whole.
    int attempts = 1;
    JsonNode last = s;
    while (last.has("stopped_by") && attempts < 20) {
      Cli again = Cli.run(cmd);
      assertEquals(0, again.code(), again.err());
      last = again.summary();
      attempts++;
    }
    assertTrue(!last.has("stopped_by"), "the run finished: " + last);
    System.out.printf("budget %d: first attempt spent %d completion tokens (%d rows); %d attempts in all%n", budget, spent,
        s.get("ok").asLong(), attempts);
    assertEquals(40, last.get("ok").asLong(), last.toString());
    Dataset<Row> rows = TestSpark.get().read().format("delta").load(out);
    assertEquals(40, rows.count(), "nothing generated twice");
    assertEquals(40, rows.select("row_key", "sample_index").distinct().count(), "nothing lost");
    assertEquals(0, rows.where("status <> 'ok'").count(), "no row was written cancelled or failed");
  }

  @Test
  void aDeadlineStopsTheAttemptAndRowsInFlightPastTheGraceAreNeverWritten() {
    Path in = input(60);
    String out = dir.resolve("deadline").toString();
    // No grace: rows still generating at the deadline are cancelled, and must not reach the table.
    String[] cmd = command(in, out, "job.deadline=2s", "job.stop_grace_s=0", "generation.max_new_tokens=48");
    Cli first = Cli.run(cmd);
    assertEquals(0, first.code(), first.err());
    JsonNode s = first.summary();
    assertEquals("deadline", s.get("stopped_by").asText(), s.toString());
    Dataset<Row> afterFirst = TestSpark.get().read().format("delta").load(out);
    assertEquals(s.get("ok").asLong(), afterFirst.count(), "what finished is committed: " + s);
    assertEquals(0, afterFirst.where("status <> 'ok'").count(), "no cancelled row was written");
    assertTrue(afterFirst.count() < 60, s.toString());

    JsonNode last = s;
    int attempts = 1;
    // The same command twice more: each a fresh deadline counted from its own start, adding to the run without
    // duplicates. An attempt of 2 s with no grace may write nothing at all on a loaded machine (a busy-looped full run
    // wrote 24 rows in 60 such attempts), so finishing the run is left to an attempt with a deadline it can meet.
    for (int i = 0; i < 2 && last.has("stopped_by"); i++) {
      // stopped means rows are left for the next attempt (one that finished the last rows as the deadline struck is
      // complete, and says so)
      assertTrue(last.get("left").asLong() > 0, last.toString());
      Cli again = Cli.run(cmd);
      assertEquals(0, again.code(), again.err());
      last = again.summary();
      attempts++;
      Dataset<Row> now = TestSpark.get().read().format("delta").load(out);
      assertEquals(now.count(), now.select("row_key", "sample_index").distinct().count(), "nothing written twice: " + last);
    }
    if (last.has("stopped_by")) {
      assertTrue(last.get("left").asLong() > 0, last.toString());
      String[] roomy = cmd.clone();
      roomy[java.util.Arrays.asList(roomy).indexOf("job.deadline=2s")] = "job.deadline=30m";
      Cli again = Cli.run(roomy);
      assertEquals(0, again.code(), again.err());
      last = again.summary();
      attempts++;
    }
    assertTrue(!last.has("stopped_by"), "the run finished: " + last);
    System.out.printf("deadline 2s: first attempt wrote %d of 60 rows; %d attempts in all%n", s.get("ok").asLong(), attempts);
    Dataset<Row> rows = TestSpark.get().read().format("delta").load(out);
    assertEquals(60, rows.count(), "nothing generated twice");
    assertEquals(60, rows.select("row_key", "sample_index").distinct().count(), "nothing lost");
    assertEquals(0, rows.where("status <> 'ok'").count());
  }

  @Test
  void aDeadlineThatCannotBeParsedIsAConfigErrorNamingTheKeyAndAnExample() {
    Cli r = Cli.run(command(input(2), dir.resolve("bad").toString(), "job.deadline=tomorrow"));
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("job.deadline") && r.err().contains("90m") && r.err().contains("2026-12-07T06:00:00Z"), r.err());
  }

  private static long tokensOfAttempt(String out, int attempt) {
    Row r = TestSpark.get().read().format("delta").load(out).where(col("attempt").equalTo(attempt))
        .agg(sum("completion_tokens")).first();
    return r.isNullAt(0) ? 0 : r.getLong(0);
  }
}
