package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.ChildJob;
import dev.jgen.testing.Cli;
import dev.jgen.testing.Signals;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import io.delta.tables.DeltaTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What protects a table: config errors before Spark, foreign tables left alone, one job per run at a time. */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class TableSafetyTest {
  @TempDir Path dir;

  private static String[] generate(String... sets) {
    List<String> a = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + TestFiles.conf().resolve("data/demo-prompts.jsonl")));
    for (String s : sets) {
      a.add("--set");
      a.add(s);
    }
    return a.toArray(String[]::new);
  }

  @Test
  void modelProblemsFailBeforeSparkWithThePath() throws Exception {
    Cli unknown = Cli.run(generate("model.id=llm-jp-9b", "output.path=" + dir.resolve("o")));
    assertEquals(2, unknown.code());
    assertTrue(unknown.err().startsWith("jgen: config error: model.id: unknown model 'llm-jp-9b'; the catalog has: "), unknown.err());
    Cli missing = Cli.run(generate("model.path=" + dir.resolve("nowhere"), "output.path=" + dir.resolve("o")));
    assertEquals(2, missing.code());
    assertTrue(missing.err().contains("model.path: no such file or directory: " + dir.resolve("nowhere")), missing.err());
    Path notGguf = Files.writeString(dir.resolve("model.gguf"), "not a model");
    Cli bad = Cli.run(generate("model.path=" + notGguf, "output.path=" + dir.resolve("o")));
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains(notGguf + " is not a GGUF file"), bad.err());
    Path empty = Files.createDirectories(dir.resolve("empty-model"));
    Cli none = Cli.run(generate("model.path=" + empty, "output.path=" + dir.resolve("o")));
    assertEquals(2, none.code());
    assertTrue(none.err().contains("no .gguf file in " + empty), none.err());
    assertEquals(1, unknown.err().lines().count(), "one line naming the key");
    assertTrue(!Files.exists(dir.resolve("o")), "nothing was written");
  }

  @Test
  void aTableOfAnotherSchemaIsRefusedAndUntouched() throws Exception {
    String out = dir.resolve("foreign").toString();
    TestSpark.get().range(5).toDF("n").write().format("delta").save(out);
    long version = DeltaTable.forPath(TestSpark.get(), out).history(1).first().getLong(0);
    Cli r = Cli.run(generate("output.path=" + out));
    assertEquals(1, r.code());
    assertTrue(r.err().contains("is a Delta table but not a jgen generations table (column 'run_id' is missing)"), r.err());
    assertEquals(version, DeltaTable.forPath(TestSpark.get(), out).history(1).first().getLong(0));
    assertEquals(5, TestSpark.get().read().format("delta").load(out).count());
    // The runs table is made while the output table opens only where the output is new: nothing appears beside a
    // path that is refused.
    assertTrue(!java.nio.file.Files.exists(java.nio.file.Path.of(out + "_runs")), "no runs table beside a refused path");
    String notATable = dir.resolve("notes").toString();
    java.nio.file.Files.createDirectories(dir.resolve("notes"));
    java.nio.file.Files.writeString(dir.resolve("notes/readme.txt"), "not a table");
    Cli other = Cli.run(generate("output.path=" + notATable));
    assertEquals(1, other.code());
    assertTrue(other.err().contains("exists and is not a Delta table"), other.err());
    assertTrue(!java.nio.file.Files.exists(java.nio.file.Path.of(notATable + "_runs")), "no runs table beside a refused path");
  }

  @Test
  void aSecondJobOnTheSameRunIsRefused() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 80; i++) {
      lines.add("{\"id\": \"c" + i + "\", \"prompt\": \"同時実行の確認 " + i + "\"}");
    }
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    String out = dir.resolve("gen").toString();
    String[] args = generate("input.path=" + in, "output.path=" + out, "run.id=shared", "job.chunk_rows=4",
        "generation.max_new_tokens=48");
    // The first job's lease is long (staleness 600 s, the default is 90 s): paused below, it stays live however slowly
    // this machine starts it, and its own lease cannot run out while paused.
    java.util.Map<String, String> longLease = java.util.Map.of("JAVA_TOOL_OPTIONS", "-Djgen.stale_ms=600000");
    Path firstLog = dir.resolve("first.log");
    Process first = ChildJob.start(firstLog, null, longLease, args);
    boolean paused = false;
    try {
      // The first job holds the run once its first chunk is committed.
      assertTrue(Signals.await(180_000, first, () -> Files.exists(Signals.commit(out, 1))),
          "the first job committed a chunk: " + Signals.read(firstLog));
      // Paused, it cannot finish before the second job has checked the lock (which a fast first job used to do).
      Signals.pause(first);
      paused = true;
      // The second job runs in this JVM (another process than the first: the lock is between processes), the same
      // command through Main; judging by the default staleness of 90 s, which its check takes a small part of.
      Cli second = Cli.run(args);
      assertEquals(1, second.code(), second.err());
      assertTrue(second.err().contains("run shared is being generated by another job"), second.err());
      Signals.resume(first);
      paused = false;
      assertTrue(first.waitFor(5, TimeUnit.MINUTES));
      assertEquals(0, first.exitValue(), Files.readString(firstLog));
    } finally {
      if (paused) {
        Signals.resume(first);
      }
      first.destroyForcibly();
    }
    var rows = TestSpark.get().read().format("delta").load(out);
    assertEquals(80, rows.count(), "no duplicates, nothing lost");
    assertEquals(80, rows.select("id").distinct().count());
  }

  @Test
  void anUnexpectedFailureIsExit1WithItsCauseAndTheStackTraceOnlyWithVerbose() throws Exception {
    // A JSON Lines file read as Parquet: Spark's own failure (not a refusal, not a config error jgen can see before Spark).
    String[] args = generate("input.format=parquet", "output.path=" + dir.resolve("o"));
    Cli r = Cli.run(args);
    assertEquals(1, r.code(), r.err());
    assertTrue(r.err().contains("jgen: failed: org.apache.spark."), "the exception's class is named: " + r.err());
    assertTrue(r.err().contains("(--verbose prints the stack trace)"), r.err());
    assertTrue(!r.err().contains("\tat org.apache.spark"), "no stack trace without --verbose: " + r.err());
    assertTrue(!r.err().contains("refused"), "a failure is not called a refusal: " + r.err());
    List<String> verbose = new ArrayList<>(List.of(args));
    verbose.add("--verbose");
    Cli v = Cli.run(verbose.toArray(String[]::new));
    assertEquals(1, v.code(), v.err());
    assertTrue(v.err().contains("\tat org.apache.spark"), "the stack trace with --verbose: " + v.err());
  }
}
