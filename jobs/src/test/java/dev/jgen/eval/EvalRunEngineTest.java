package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.ChildJob;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MT-Bench and self-chat on the run engine every kind shares: a SIGKILL of the driver mid-run, then the same command,
 * gives every conversation exactly once, with what was committed before untouched; `jgen show` and `jgen runs` read
 * their tables.
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class EvalRunEngineTest {
  @TempDir Path dir;

  private static String[] args(String config, Path in, Path out, String... extra) {
    List<String> a = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve(config).toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "generation.max_new_tokens=12",
        "--set", "job.chunk_rows=4", "--set", "engine.ctx_size=1024"));
    for (String e : extra) {
      a.add("--set");
      a.add(e);
    }
    return a.toArray(String[]::new);
  }

  /** Runs the command in a child JVM, kills it after its first chunk commit, and runs it again here. */
  private Cli killAfterFirstCommitThenResume(String[] args, Path out, long total, String sampleColumn) throws Exception {
    Process child = ChildJob.start(dir.resolve("child.log"), args);
    Path firstChunk = out.resolve("_delta_log").resolve("00000000000000000001.json");
    long deadline = System.currentTimeMillis() + 240_000;
    while (!Files.exists(firstChunk) && child.isAlive() && System.currentTimeMillis() < deadline) {
      Thread.sleep(50);
    }
    assertTrue(Files.exists(firstChunk), "the child committed a chunk: " + Files.readString(dir.resolve("child.log")));
    child.destroyForcibly();
    assertTrue(child.waitFor(30, TimeUnit.SECONDS));
    long committed = TestSpark.get().read().format("delta").load(out.toString()).count();
    assertTrue(committed > 0 && committed < total, "killed mid-run, after " + committed + " of " + total);

    Cli r = Cli.run(args);
    assertEquals(0, r.code(), r.err());
    Dataset<Row> all = TestSpark.get().read().format("delta").load(out.toString());
    assertEquals(total, all.count(), "exactly one row per conversation: nothing generated twice");
    assertEquals(total, all.select("row_key", sampleColumn).distinct().count());
    assertEquals(committed, all.where("attempt = 1").count(), "the first attempt's rows stay as they were");
    assertEquals(total - committed, all.where("attempt = 2").count());
    return r;
  }

  @Test
  void mtBenchSurvivesAKillAndShowAndRunsReadItsTable() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      lines.add("{\"question_id\": " + (100 + i) + ", \"category\": \"" + (i % 2 == 0 ? "writing" : "math")
          + "\", \"turns\": [\"質問 " + i + " です。\", \"続けて " + i + " について。\"]}");
    }
    lines.add("{\"question_id\": 999, \"category\": \"writing\", \"turns\": []}");
    Path in = TestFiles.jsonl(dir, "questions.jsonl", lines);
    Path out = dir.resolve("answers");
    killAfterFirstCommitThenResume(args("jobs/mtbench.yaml", in, out), out, 25, "choice_index");
    Dataset<Row> rows = TestSpark.get().read().format("delta").load(out.toString());
    assertEquals(24, rows.where("status = 'ok' AND size(turns) = 2").count(), "both turns of every good question");
    Row bad = rows.where("question_id = '999'").first();
    assertEquals("error", bad.getAs("status"));
    assertTrue(((String) bad.getAs("error")).contains("turns"), (String) bad.getAs("error"));

    Cli show = Cli.run("show", "--output", out.toString(), "--status", "error");
    assertEquals(0, show.code(), show.err());
    assertTrue(show.out().contains("999") && show.out().contains("error"), show.out());
    Cli runs = Cli.run("runs", "--output", out.toString());
    assertEquals(0, runs.code(), runs.err());
    assertTrue(runs.out().contains("MT-Bench answers") && runs.out().matches("(?s).*\\s25\\s+24\\s+1\\s+2\\s.*"), runs.out());
    assertTrue(runs.out().contains("running") && runs.out().contains("finished"), "the killed attempt and the resume: " + runs.out());

    // The same command again: everything is done, the error row is not silently regenerated.
    Cli again = Cli.run(args("jobs/mtbench.yaml", in, out));
    assertEquals(0, again.code(), again.err());
    assertEquals(25, TestSpark.get().read().format("delta").load(out.toString()).count());
  }

  @Test
  void selfChatSurvivesAKillAndShowReadsItsTable() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      lines.add("{\"id\": \"s" + i + "\", \"prompt\": \"話題 " + i + " について話しましょう。\"}");
    }
    Path in = TestFiles.jsonl(dir, "seeds.jsonl", lines);
    Path out = dir.resolve("dialogues");
    killAfterFirstCommitThenResume(args("jobs/selfchat.yaml", in, out, "selfchat.turns=2"), out, 20, "sample_index");
    Cli show = Cli.run("show", "--output", out.toString(), "--limit", "3");
    assertEquals(0, show.code(), show.err());
    assertTrue(show.out().contains("s0") || show.out().contains("s1"), show.out());
    Cli runs = Cli.run("runs", "--output", out.toString());
    assertEquals(0, runs.code(), runs.err());
    assertTrue(runs.out().contains("self-chat dialogues"), runs.out());
  }
}
