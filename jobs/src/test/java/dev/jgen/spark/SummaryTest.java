package dev.jgen.spark;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JSON summary against the table it describes. A first attempt's summary is tallied while its rows are written
 * (no read of the table); a resume's is read from the table. Both must say what the table holds: rows by status,
 * token sums and warnings, over several chunks and tasks.
 */
class SummaryTest {
  @TempDir Path dir;

  @Test
  void aFirstAttemptsTalliedSummaryAndAResumesReadSummaryMatchTheTable() {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      String id = i % 10 == 7 ? "" : "r" + i; // an empty id: an error row
      String prompt = i % 6 == 5 ? "同じ質問です。" : "質問 " + i + " に答えてください。"; // repeats: skipped by dedup
      String system = i % 4 == 0 ? ", \"system\": \"簡潔に答えてください。\"" : ""; // a warning: the template drops it
      lines.add("{\"id\": \"" + id + "\", \"prompt\": \"" + prompt + "\"" + system + "}");
    }
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    String out = dir.resolve("gen").toString();
    String[] sets = {"input.path=" + in, "output.path=" + out, "input.dedup=true", "generation.max_new_tokens=4",
        "job.chunk_rows=8", "job.partitions=2"};
    Cli first = generate(sets);
    assertEquals(0, first.code(), first.err());
    JsonNode s = first.summary();
    assertEquals(30, s.get("rows_in").asLong());
    assertEquals(30, s.get("generated_now").asLong());
    assertTrue(s.get("error").asLong() > 0 && s.get("skipped").asLong() > 0 && s.get("warnings").asLong() > 0, s.toString());
    assertMatchesTable(s, out);
    assertWarningsMatchTable(first, out);
    // Memory, labelled: the JVM's heap after a collection at its highest, and the native server's own peak RSS (a
    // process of its own, with the model's weights and KV cache: never less than a few MB).
    assertTrue(s.get("jvm_peak_heap_after_gc_mb").asLong() > 0, s.toString());
    assertTrue(s.get("jvm_peak_heap_after_gc_mb").asLong() <= Runtime.getRuntime().maxMemory() >> 20, s.toString());
    if (dev.jgen.engine.llamanative.NativeBuild.server().isPresent()) {
      assertTrue(s.get("engine_peak_rss_mb").asLong() >= 4, "the engine process's peak RSS: " + s);
    }
    assertTrue(!s.has("peak_heap_mb"), "the sum of pools' own peaks is no longer reported: " + s);

    // A resume that regenerates the error rows: its summary comes from the table, and must agree with it too.
    Cli again = generate(concat(sets, "--retry-errors"));
    assertEquals(0, again.code(), again.err());
    assertEquals(2, again.summary().get("attempt").asInt());
    assertMatchesTable(again.summary(), out);
    assertWarningsMatchTable(again, out);
  }

  private static void assertMatchesTable(JsonNode s, String out) {
    Dataset<Row> all = TestSpark.get().read().format("delta").load(out);
    var w = Window.partitionBy("row_key", "sample_index").orderBy(col("attempt").desc());
    Dataset<Row> latest = all.withColumn("_r", functions.row_number().over(w)).where("_r = 1");
    for (String status : List.of("ok", "error", "skipped")) {
      assertEquals(latest.where(col("status").equalTo(status)).count(), s.get(status).asLong(), status + " in " + s);
    }
    Row sums = latest.agg(functions.sum("prompt_tokens"), functions.sum("completion_tokens"), functions.sum("cached_tokens")).first();
    assertEquals(sums.isNullAt(0) ? 0 : sums.getLong(0), s.get("prompt_tokens").asLong(), s.toString());
    assertEquals(sums.isNullAt(1) ? 0 : sums.getLong(1), s.get("completion_tokens").asLong(), s.toString());
    // cached_tokens (issue 28): the rows' engine counts summed, null when no row has one.
    assertEquals(sums.isNullAt(2) ? null : sums.getLong(2), s.get("cached_tokens").isNull() ? null : s.get("cached_tokens").asLong(),
        s.toString());
    if (dev.jgen.engine.llamanative.NativeBuild.server().isPresent()) {
      // Every prompt starts with the chat template's header: with the native engine's prefix cache, rows after the
      // first reuse at least that.
      assertTrue(s.get("cached_tokens").asLong() > 0, s.toString());
    }
  }

  /** Each warning's row count as the job printed it ("jgen: warning (N rows): text") against the table's rows. */
  private static void assertWarningsMatchTable(Cli run, String out) {
    TreeMap<String, Long> printed = new TreeMap<>();
    var m = java.util.regex.Pattern.compile("(?m)^jgen: warning \\((\\d+) rows\\): (.*)$").matcher(run.err() + "\n" + run.out());
    while (m.find()) {
      printed.put(m.group(2), Long.parseLong(m.group(1)));
    }
    TreeMap<String, Long> table = new TreeMap<>();
    Dataset<Row> all = TestSpark.get().read().format("delta").load(out);
    var w = Window.partitionBy("row_key", "sample_index").orderBy(col("attempt").desc());
    for (Row r : all.withColumn("_r", functions.row_number().over(w)).where("_r = 1")
        .select(functions.explode(col("warnings")).as("w")).groupBy("w").count().collectAsList()) {
      table.put(r.getString(0), r.getLong(1));
    }
    assertTrue(!table.isEmpty(), "the input was made to warn");
    assertEquals(table, printed);
    assertEquals(table.size(), run.summary().get("warnings").asLong());
  }

  private static Cli generate(String... setsAndFlags) {
    List<String> args = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString()));
    for (String a : setsAndFlags) {
      if (a.startsWith("--")) {
        args.add(a);
      } else {
        args.add("--set");
        args.add(a);
      }
    }
    return Cli.run(args.toArray(String[]::new));
  }

  private static String[] concat(String[] a, String b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + 1);
    out[a.length] = b;
    return out;
  }
}
