package dev.jgen.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.cli.Main;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import dev.jgen.testing.djl.DjlServingStandIn;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Row errors never stop a run; run errors (a broken server) stop it with exit code 3, and the same command resumes. */
class RunErrorsTest {
  @TempDir Path dir;

  private static Path prompts(Path dir, String name, int n) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      lines.add("{\"id\": \"r" + i + "\", \"prompt\": \"質問 " + i + " に答えてください。\", \"max_new_tokens\": " + (1 + i % 5) + "}");
    }
    return TestFiles.jsonl(dir, name, lines);
  }

  private static String[] args(Path in, String out, String endpoint) {
    return new String[] {"generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "engine.kind=djl-serving",
        "--set", "engine.djl.endpoints=" + endpoint, "--set", "engine.djl.max_rolling_batch_size=16",
        "--set", "engine.djl.retries=0", "--set", "run.id=broken-server"};
  }

  @Test
  void aBrokenServerStopsTheRunAndTheSameCommandResumesExactlyOnce() throws Exception {
    DjlServingStandIn.Options o = DjlServingStandIn.Options.synthetic(16, 1);
    String out = dir.resolve("gen").toString();
    try (DjlServingStandIn s = DjlServingStandIn.start(o)) {
      // A healthy first run over the first 100 rows: committed.
      Path in = prompts(dir, "in.jsonl", 100);
      Cli first = Cli.run(args(in, out, s.url().toString()));
      assertEquals(0, first.code(), first.err());
      assertEquals(100, first.summary().get("ok").asLong());
      // The server's own figures (its /metrics, and the client's request counts) come back in the summary.
      assertTrue(first.summary().path("server_metrics").size() > 0, first.out());

      // The input grows to 400 rows and the server breaks: every request is answered 500.
      prompts(dir, "in.jsonl", 400);
      s.failAll(true);
      Cli broken = Cli.run(args(in, out, s.url().toString()));
      assertEquals(Main.EXIT_RUN_ERROR, broken.code(), broken.err() + broken.out());
      assertTrue(broken.err().contains("run stopped: run error: ") && broken.err().contains("engine or internal reasons")
          && broken.err().contains("500"), broken.err());
      Dataset<Row> rows = TestSpark.get().read().format("delta").load(out).where("run_id = 'broken-server'");
      // What was committed before stays; the broken attempt committed no error rows for the server's fault.
      assertEquals(100, rows.where("status = 'ok'").count());
      long errorRows = rows.where("status = 'error'").count();
      assertTrue(errorRows < 400 - 100, "not a table full of error rows: " + errorRows);
      Cli runs = Cli.run("runs", "--output", out);
      assertTrue(runs.out().contains("failed"), "the runs table records the stop: " + runs.out());

      // Fixed: the same command finishes, each (id, sample) exactly once.
      s.failAll(false);
      Cli fixed = Cli.run(args(in, out, s.url().toString()));
      assertEquals(0, fixed.code(), fixed.err());
      JsonNode sum = fixed.summary();
      assertEquals(400, sum.get("rows_in").asLong());
      Dataset<Row> latest = TestSpark.get().read().format("delta").load(out).where("run_id = 'broken-server'");
      assertEquals(400, latest.select("row_key", "sample_index").distinct().count());
      assertEquals(400 - errorRows, latest.where("status = 'ok'").count(),
          "ok rows appear once each; error rows of the broken attempt (if any) stay as history until --retry-errors");
    }
  }

  @Test
  void aFileOfMostlyBadRowsFinishesWithExitZero() {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      lines.add(i % 10 < 7
          ? "{\"id\": \"b" + i + "\", \"prompt\": \"悪い行\", \"temperature\": -1}"
          : "{\"id\": \"b" + i + "\", \"prompt\": \"良い行 " + i + "\"}");
    }
    Path in = TestFiles.jsonl(dir, "bad.jsonl", lines);
    Cli r = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(), "--set", "input.path=" + in,
        "--set", "output.path=" + dir.resolve("bad"), "--set", "engine.kind=echo");
    assertEquals(0, r.code(), r.err());
    JsonNode s = r.summary();
    assertEquals(10_000, s.get("rows_in").asLong());
    assertEquals(3_000, s.get("ok").asLong());
    assertEquals(7_000, s.get("error").asLong());
  }
}
