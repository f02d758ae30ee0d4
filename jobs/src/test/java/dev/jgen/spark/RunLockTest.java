package dev.jgen.spark;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.delta.RunsTable;
import dev.jgen.testing.ChildJob;
import dev.jgen.testing.Signals;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The run's lock under real faults, with real child jobs: a heartbeat whose writes fail for a while keeps the lock, and
 * a job paused past its lease (SIGSTOP) while another takes the run over stops with exit code 4 without writing a row.
 * Heartbeat and staleness are shortened through the children's system properties (JAVA_TOOL_OPTIONS).
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class RunLockTest {
  @TempDir Path dir;

  private String[] args(Path in, String out) {
    return new String[] {"generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(), "--set",
        "input.path=" + in, "--set", "output.path=" + out, "--set", "run.id=locked", "--set", "job.chunk_rows=4", "--set",
        "generation.max_new_tokens=48"};
  }

  private Path input(int rows) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      lines.add("{\"id\": \"l" + i + "\", \"prompt\": \"ロックの確認 " + i + "\"}");
    }
    return TestFiles.jsonl(dir, "in.jsonl", lines);
  }

  private static Map<String, String> props(long heartbeatMs, long staleMs) {
    return Map.of("JAVA_TOOL_OPTIONS", "-Djgen.heartbeat_ms=" + heartbeatMs + " -Djgen.stale_ms=" + staleMs);
  }

  /**
   * Makes a directory refuse new files and come back: chattr +i for root (whom permissions do not stop), else chmod.
   */
  private static void writable(Path d, boolean yes) throws IOException, InterruptedException {
    boolean root = "root".equals(System.getProperty("user.name"));
    List<String> cmd = root ? List.of("chattr", yes ? "-i" : "+i", d.toString()) : List.of("chmod", yes ? "u+w" : "a-w", d.toString());
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    assertEquals(0, p.waitFor(), String.join(" ", cmd));
  }

  @Test
  void heartbeatWritesThatFailForAWhileKeepTheLock() throws Exception {
    int rows = 160;
    Path in = input(rows);
    String out = dir.resolve("gen").toString();
    Path runsLog = Path.of(RunsTable.besideOutput(out), "_delta_log");
    Path log = dir.resolve("child.log");
    // Heartbeat every second; the lease (stale - 2 heartbeats) is 28 s: the fault below lasts a few heartbeats.
    Process child = ChildJob.start(log, null, props(1000, 30_000), args(in, out));
    long faultStart = 0;
    long faultMs = 0;
    boolean restored = true;
    try {
      assertTrue(Signals.await(240_000, child, () -> Files.exists(Signals.commit(out, 1))),
          "the child committed a chunk: " + Signals.read(log));
      // The runs table's log refuses new commits: every heartbeat write fails (a real I/O error in Delta's commit).
      writable(runsLog, false);
      restored = false;
      faultStart = System.currentTimeMillis();
      assertTrue(Signals.await(60_000, child, () -> Signals.linesWith(log, "could not be written") >= 3),
          "three heartbeats failed: " + Signals.read(log));
      assertTrue(child.isAlive(), "the child still generates while its heartbeat fails: " + Signals.read(log));
      writable(runsLog, true);
      restored = true;
      faultMs = System.currentTimeMillis() - faultStart;
      assertTrue(faultMs < 30_000 - 2 * 1000,
          "the fault stayed shorter than the lease (" + faultMs + " ms), so the lock must hold");
    } finally {
      if (!restored) {
        writable(runsLog, true);
      }
    }
    long restoredAt = System.currentTimeMillis();
    assertTrue(child.waitFor(5, TimeUnit.MINUTES), Signals.read(log));
    String text = Signals.read(log);
    assertEquals(0, child.exitValue(), text);
    assertFalse(text.contains("stopped:"), text);
    // The heartbeat came back after the fault (a running row stamped after the directory became writable again).
    Dataset<Row> history = TestSpark.get().read().format("delta").load(RunsTable.besideOutput(out));
    long renewedAfter = history.where(col("status").equalTo("running").and(col("heartbeat_at").geq(new Timestamp(restoredAt)))).count();
    List<dev.jgen.delta.RunRecord> attempts = RunsTable.openIfExists(TestSpark.get(), RunsTable.besideOutput(out)).orElseThrow().attempts("locked");
    assertEquals(1, attempts.size(), "one attempt, never taken over: " + attempts);
    assertEquals("finished", attempts.get(0).status());
    Dataset<Row> gen = TestSpark.get().read().format("delta").load(out);
    assertEquals(rows, gen.count(), "every row exactly once");
    assertEquals(rows, gen.select("id").distinct().count());
    System.out.println("heartbeat writes failed for " + faultMs + " ms (" + Signals.linesWith(log, "could not be written")
        + " failed beats); renewed " + renewedAfter + " times after; run finished with exit 0");
  }

  @Test
  void aJobWhoseTasksHoldEverySlotKeepsItsLock() throws Exception {
    // Two partitions on local[2], one chunk: both task slots stay busy generating for many seconds, far beyond the
    // lease (heartbeat every second, stale after 6: a lease of 4 s). The heartbeat must not need a task slot: a Delta
    // commit (a Spark job) would wait for one, and the job would stop itself ("could not be renewed").
    int rows = 240;
    Path in = input(rows);
    String out = dir.resolve("busy").toString();
    Path log = dir.resolve("busy.log");
    List<String> a = new ArrayList<>(List.of(args(in, out)));
    a.addAll(List.of("--set", "job.chunk_rows=100000", "--set", "job.partitions=2", "--set", "spark.master=local[2]",
        "--set", "generation.max_new_tokens=240"));
    long t0 = System.nanoTime();
    Process child = ChildJob.start(log, null, props(1000, 6000), a.toArray(String[]::new));
    assertTrue(child.waitFor(10, TimeUnit.MINUTES), Signals.read(log));
    double seconds = (System.nanoTime() - t0) / 1e9;
    String text = Signals.read(log);
    assertEquals(0, child.exitValue(), text);
    assertFalse(text.contains("stopped:"), text);
    Dataset<Row> gen = TestSpark.get().read().format("delta").load(out);
    assertEquals(rows, gen.count(), "every row exactly once");
    String phases = text.lines().filter(l -> l.contains("time by phase")).findFirst().orElse("");
    // The test shows something only when both slots were busy for longer than the lease.
    java.util.regex.Matcher generating = java.util.regex.Pattern.compile("generate and commit=(\\d+)").matcher(phases);
    assertTrue(generating.find(), text);
    assertTrue(Long.parseLong(generating.group(1)) > 4000, "generation outlasted the lease: " + phases);
    System.out.println("both slots generating, lease 4 s: exit 0 after " + Math.round(seconds) + " s; " + phases);
  }

  @Test
  void aJobPausedWhileAnotherTakesTheRunOverStopsBeforeItWrites() throws Exception {
    int rows = 80;
    Path in = input(rows);
    String out = dir.resolve("gen").toString();
    String runs = RunsTable.besideOutput(out);
    Path firstLog = dir.resolve("first.log");
    Path secondLog = dir.resolve("second.log");
    // A lease of 10 s (stale after 12 s, less two heartbeats): the pause, not a slow machine, is what must make the first
    // job's heartbeat stale; a starved heartbeat thread is late by far less (the test above holds its lock with a lease of
    // 4 s while both task slots generate). The test waits out the staleness, so a shorter one would save little more.
    long heartbeat = 1000;
    long stale = 12_000;
    Process first = ChildJob.start(firstLog, null, props(heartbeat, stale), args(in, out));
    Process second = null;
    boolean paused = false;
    try {
      assertTrue(Signals.await(240_000, first, () -> Files.exists(Signals.commit(out, 1))),
          "the first job committed a chunk: " + Signals.read(firstLog));
      // Frozen mid-run, chunks in flight: from now on its heartbeat ages.
      Signals.pause(first);
      paused = true;
      long firstRowsAtPause = attemptRows(out, 1);
      assertTrue(firstRowsAtPause > 0 && firstRowsAtPause < rows, "paused mid-run, after " + firstRowsAtPause + " rows");
      // The second job may take over once the first's newest heartbeat is older than stale_ms (RunAttempt.isLive).
      // Liveness is judged from the newer of the record's heartbeat and the heartbeat file (written by separate threads).
      Timestamp lastRecord = (Timestamp) TestSpark.get().read().format("delta").load(runs).where("attempt = 1")
          .agg(org.apache.spark.sql.functions.max("heartbeat_at")).first().get(0);
      long lastFile = RunsTable.openIfExists(TestSpark.get(), runs).orElseThrow().heartbeats("locked").getOrDefault(1, 0L);
      long lastBeat = Math.max(lastRecord.getTime(), lastFile);
      assertTrue(Signals.await(120_000, null, () -> System.currentTimeMillis() - lastBeat > stale + heartbeat),
          "the first job's heartbeat went stale");
      second = ChildJob.start(secondLog, null, props(heartbeat, stale), args(in, out));
      // The takeover is done once the second attempt is recorded as running: resume the first then, while the second
      // generates the rows the first had in flight.
      Process s2 = second;
      assertTrue(Signals.await(240_000, second, () -> attemptRecorded(runs, 2)),
          "the second job took the run over: " + Signals.read(secondLog));
      long resumedAt = System.currentTimeMillis();
      Signals.resume(first);
      paused = false;
      assertTrue(first.waitFor(3, TimeUnit.MINUTES), "the first job stopped: " + Signals.read(firstLog));
      long stoppedMs = System.currentTimeMillis() - resumedAt;
      String firstText = Signals.read(firstLog);
      assertEquals(4, first.exitValue(), firstText);
      assertTrue(firstText.contains("run locked attempt 1 stopped: "), firstText);
      assertTrue(s2.waitFor(5, TimeUnit.MINUTES), Signals.read(secondLog));
      assertEquals(0, s2.exitValue(), Signals.read(secondLog));
      // What the lock guarantees, read from the table's history once the second job is done: no commit of attempt 1 comes
      // after the takeover's fence. A commit the first job had begun before its pause may land after the runs table
      // changed hands but before the fence; the second job then reads it and does not generate those rows again.
      List<Row> history = io.delta.tables.DeltaTable.forPath(TestSpark.get(), out).history().select("version", "operation",
          "userMetadata").collectAsList();
      long fence = history.stream().filter(h -> "Manual Update".equals(h.getString(1))).mapToLong(h -> h.getLong(0)).max()
          .orElseThrow(() -> new AssertionError("no fence commit: " + history));
      for (Row h : history) {
        String meta = h.isNullAt(2) ? "" : h.getString(2);
        if (meta.contains("\"attempt\":1,") || meta.contains("\"attempt\":1}")) {
          assertTrue(h.getLong(0) < fence, "attempt 1 committed version " + h.getLong(0) + " after the fence (version " + fence
              + "): " + firstText);
        }
      }
      Dataset<Row> gen = TestSpark.get().read().format("delta").load(out);
      assertEquals(rows, gen.count(), "every row exactly once: " + gen.groupBy("attempt").count().collectAsList());
      assertEquals(rows, gen.select("id").distinct().count());
      assertEquals(rows, attemptRows(out, 1) + attemptRows(out, 2));
      // The takeover fenced the first attempt's chunks off in the table (ChunkFence), in one commit of its own.
      assertEquals(1, io.delta.tables.DeltaTable.forPath(TestSpark.get(), out).history()
          .where("operation = 'Manual Update'").count(), "one fence commit");
      List<dev.jgen.delta.RunRecord> attempts = RunsTable.openIfExists(TestSpark.get(), runs).orElseThrow().attempts("locked");
      assertEquals("failed", attempts.get(0).status(), "the first attempt records how it ended: " + attempts);
      assertEquals("finished", attempts.get(1).status());
      System.out.println("first job: " + firstRowsAtPause + " rows before the pause, exit 4 " + stoppedMs
          + " ms after SIGCONT, nothing of it after the takeover's fence");
    } finally {
      if (paused) {
        Signals.resume(first);
      }
      first.destroyForcibly();
      if (second != null) {
        second.destroyForcibly();
      }
    }
  }

  private static long attemptRows(String out, int attempt) {
    return TestSpark.get().read().format("delta").load(out).where(col("attempt").equalTo(attempt)).count();
  }

  private static boolean attemptRecorded(String runs, int attempt) {
    try {
      return TestSpark.get().read().format("delta").load(runs)
          .where(col("attempt").equalTo(attempt).and(col("status").equalTo("running"))).count() > 0;
    } catch (RuntimeException e) {
      return false; // a commit being written: read again
    }
  }
}
