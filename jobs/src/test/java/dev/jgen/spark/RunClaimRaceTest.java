package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.testing.ChildJob;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The run claim under a real race: three job processes (each a warm JVM, {@link dev.jgen.testing.JobServer}) are sent
 * the same {@code generate} command on a new run at the same moment, twenty times over. Each time exactly one
 * generates, the other two are refused naming the run and the winner, and the table holds each (row, sample) once.
 * (Before the claim was a Delta transaction, two jobs both won in four of five such starts.)
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class RunClaimRaceTest {
  private static final int JOBS = 3;
  private static final int ROUNDS = 20;
  private static final int ROWS = 16;
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  @Test
  void threeJobsStartedOnOneRunAtTheSameMomentOnlyOneGenerates() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < ROWS; i++) {
      lines.add("{\"id\": \"r" + i + "\", \"prompt\": \"同時に始まった三つのジョブ " + i + "\"}");
    }
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    String out = dir.resolve("gen").toString();
    List<Process> jobs = new ArrayList<>();
    List<BufferedReader> replies = new ArrayList<>();
    ExecutorService readers = Executors.newFixedThreadPool(JOBS);
    try {
      for (int j = 0; j < JOBS; j++) {
        Process p = ChildJob.startMain("dev.jgen.testing.JobServer", null, dir.resolve("job" + j + ".err"), Map.of(), 1024);
        jobs.add(p);
        replies.add(new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)));
      }
      for (int j = 0; j < JOBS; j++) {
        assertTrue(readLine(readers, replies.get(j), jobs.get(j)).contains("ready"), "job " + j + " started");
      }
      // Each JVM's first command pays for Spark's and the engine's start; a run of its own, so the race rounds start warm.
      List<JsonNode> warm = round(readers, jobs, replies, j -> args(in, dir.resolve("warm" + j).toString(), "warm"));
      for (JsonNode w : warm) {
        assertEquals(0, w.get("code").asInt(), w.toString());
      }
      for (int round = 0; round < ROUNDS; round++) {
        String run = "race-" + round;
        List<JsonNode> results = round(readers, jobs, replies, j -> args(in, out, run));
        List<JsonNode> winners = results.stream().filter(r -> r.get("code").asInt() == 0).toList();
        assertEquals(1, winners.size(), "round " + round + ": exactly one job generates: " + results);
        JsonNode summary = JSON.readTree(winners.get(0).get("out").asText().strip().lines().reduce((a, b) -> b).orElseThrow());
        assertEquals(ROWS, summary.get("generated_now").asInt(), summary.toString());
        assertEquals(ROWS, summary.get("ok").asInt(), summary.toString());
        for (JsonNode r : results) {
          if (r.get("code").asInt() != 0) {
            assertEquals(1, r.get("code").asInt(), "round " + round + ": a refusal: " + r);
            String err = r.get("err").asText();
            assertTrue(err.contains("jgen: refused: run " + run + " "), "names the run: " + err);
            // The winner is attempt 1 of the run, held by a process of this host: its pid is named.
            assertTrue(err.contains("attempt 1, host "), "names the winner: " + err);
            assertTrue(jobs.stream().anyMatch(p -> err.contains("pid " + p.pid())), "names the winner's pid: " + err);
          }
        }
        Dataset<Row> rows = TestSpark.get().read().format("delta").load(out).where("run_id = '" + run + "'");
        assertEquals(ROWS, rows.count(), "round " + round + ": each (row, sample) once");
        assertEquals(ROWS, rows.select("row_key", "sample_index").distinct().count());
        assertEquals(1, rows.select("attempt").distinct().count());
      }
    } finally {
      for (Process p : jobs) {
        p.getOutputStream().close();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
      readers.shutdownNow();
    }
  }

  private static String[] args(Path in, String out, String run) {
    return new String[] {"generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "run.id=" + run,
        // Every round's requests are the same: job.reuse would copy round 0's rows instead of generating them.
        "--set", "generation.max_new_tokens=24", "--set", "job.reuse=false"};
  }

  /** Sends each job its command, all within a few microseconds, and waits for every answer (bounded). */
  private static List<JsonNode> round(ExecutorService readers, List<Process> jobs, List<BufferedReader> replies,
      java.util.function.IntFunction<String[]> command) throws Exception {
    List<byte[]> lines = new ArrayList<>();
    for (int j = 0; j < jobs.size(); j++) {
      lines.add((String.join("\t", command.apply(j)) + "\n").getBytes(StandardCharsets.UTF_8));
    }
    for (int j = 0; j < jobs.size(); j++) {
      OutputStream o = jobs.get(j).getOutputStream();
      o.write(lines.get(j));
      o.flush();
    }
    List<JsonNode> results = new ArrayList<>();
    for (int j = 0; j < jobs.size(); j++) {
      results.add(JSON.readTree(readLine(readers, replies.get(j), jobs.get(j))));
    }
    return results;
  }

  private static String readLine(ExecutorService readers, BufferedReader r, Process p) throws Exception {
    Future<String> line = readers.submit(r::readLine);
    String s = line.get(5, TimeUnit.MINUTES);
    assertTrue(s != null, "the job process ended (exit " + (p.isAlive() ? "none" : p.exitValue()) + ")");
    return s;
  }
}
