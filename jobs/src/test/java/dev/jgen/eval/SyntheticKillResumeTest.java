package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.ChildJob;
import dev.jgen.testing.Cli;
import dev.jgen.testing.Signals;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The synthetic-data kinds survive a kill exactly once: a {@code magpie} job, then a {@code score} job over its table, each
 * killed with SIGKILL once its first chunk is committed, then run again with the same command: every (row, sample) is in
 * the table once, nothing generated twice, nothing lost.
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class SyntheticKillResumeTest {
  private static final int SEEDS = 30;
  private static final int N = 2;

  @TempDir Path dir;

  @Test
  void magpieThenScoreKilledMidRunAndResumedHoldEachRowOnce() throws Exception {
    List<String> seeds = new ArrayList<>();
    for (int i = 0; i < SEEDS; i++) {
      seeds.add(i % 3 == 0 ? "{\"id\": \"s" + i + "\", \"system\": \"あなたは料理の専門家です。\"}" : "{\"id\": \"s" + i + "\"}");
    }
    Path in = TestFiles.jsonl(dir, "seeds.jsonl", seeds);
    String magpie = dir.resolve("magpie").toString();
    String[] magpieCmd = {"generate", "--config", TestFiles.conf().resolve("jobs/magpie.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + magpie, "--set", "generation.max_new_tokens=48",
        "--set", "generation.stop=題", "--set", "job.chunk_rows=4", "--set", "job.partitions=1", "--set", "run.id=magpie-k"};
    killAfterFirstChunk(magpie, magpieCmd, "magpie");
    Cli again = Cli.run(magpieCmd);
    assertEquals(0, again.code(), again.err());
    assertOnce(magpie, SEEDS * N);
    assertBothAttempts(magpie);

    String scores = dir.resolve("scores").toString();
    String[] scoreCmd = {"generate", "--config", TestFiles.conf().resolve("jobs/score.yaml").toString(),
        "--set", "input.path=" + magpie, "--set", "output.path=" + scores, "--set", "generation.max_new_tokens=48",
        "--set", "score.constrain_rating=24", "--set", "job.chunk_rows=2", "--set", "job.partitions=1", "--set", "run.id=score-k"};
    long okInstructions = TestSpark.get().read().format("delta").load(magpie).where("status = 'ok'").count();
    assertTrue(okInstructions >= 4, "enough ok instructions to score in several chunks: " + okInstructions);
    killAfterFirstChunk(scores, scoreCmd, "score");
    Cli scored = Cli.run(scoreCmd);
    assertEquals(0, scored.code(), scored.err());
    assertOnce(scores, okInstructions);
    assertBothAttempts(scores);
  }

  /** Starts the command as a child job, SIGKILLs it once its first chunk is committed, and checks it was cut short. */
  private void killAfterFirstChunk(String table, String[] cmd, String what) throws Exception {
    Path log = dir.resolve(what + ".log");
    Process job = ChildJob.start(log, cmd);
    try {
      // Version 0 creates the table; version 1 is the first chunk.
      assertTrue(Signals.await(240_000, job, () -> java.nio.file.Files.exists(Signals.commit(table, 1))),
          what + " committed a chunk: " + Signals.read(log));
    } finally {
      job.destroyForcibly(); // SIGKILL
      job.waitFor(60, TimeUnit.SECONDS);
    }
    assertTrue(job.exitValue() != 0, what + " was killed before it finished: " + Signals.read(log));
  }

  /** The killed attempt's committed rows stayed, and the resume generated the rest as attempt 2. */
  private static void assertBothAttempts(String table) {
    Dataset<Row> rows = TestSpark.get().read().format("delta").load(table);
    assertTrue(rows.where("attempt = 1").count() > 0 && rows.where("attempt = 2").count() > 0,
        "rows of the killed attempt and of the resume in " + table);
  }

  /** Each (row, sample) of the run once: as many rows as distinct keys, and as the input gives. */
  private static void assertOnce(String table, long expected) {
    Dataset<Row> rows = TestSpark.get().read().format("delta").load(table);
    String sample = List.of(rows.columns()).contains("sample_index") ? "sample_index" : "turn";
    long distinct = rows.select("row_key", sample).distinct().count();
    assertEquals(expected, distinct, "nothing lost in " + table);
    assertEquals(distinct, rows.count(), "nothing generated twice in " + table);
  }
}
