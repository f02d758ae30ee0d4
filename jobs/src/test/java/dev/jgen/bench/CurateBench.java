package dev.jgen.bench;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.delta.OutputSchema;
import dev.jgen.testing.ChildJob;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructField;

/**
 * {@code jgen bench --scenario curate [--rows N]}: {@code job.kind=curate} over N synthetic instructions (128 characters
 * of two 16-character Japanese alphabets, each unrelated to the others), one sample each; of every 10 ids one is a near
 * duplicate of the id before it (one character changed), one an exact duplicate of the id two before, and every 100th
 * candidate failed. The generations table is made in this JVM; the curate command runs as a fresh {@code jgen generate}
 * process (the test class path, as the pipeline scenario), timed from start to exit, with its summary's execute time,
 * peak heap and the process's peak resident memory (VmHWM).
 */
final class CurateBench {
  private static final ObjectMapper JSON = new ObjectMapper();

  private CurateBench() {}

  static ObjectNode run(Path work, int rows, int heapMb) throws Exception {
    Path dir = Files.createDirectories(work.resolve("curate-" + rows + "-" + System.nanoTime()));
    Path gen = dir.resolve("generations");
    long t0 = System.nanoTime();
    table(TestSpark.get(), gen, rows);
    double makeS = (System.nanoTime() - t0) / 1e9;
    System.err.printf(Locale.ROOT, "curate bench: %d candidates written in %.1f s; curating ...%n", rows, makeS);
    Path conf = dir.resolve("curate.yaml");
    Files.writeString(conf, "job:\n  kind: curate\ncurate:\n  generations: " + gen.toAbsolutePath() + "\noutput:\n  path: "
        + dir.resolve("curated").toAbsolutePath() + "\nspark:\n  conf:\n    spark.sql.shuffle.partitions: 8\n");
    Path log = dir.resolve("curate.out");
    long start = System.nanoTime();
    Process p = ChildJob.start(log, dir.resolve("curate.err"), Map.of(), heapMb, "generate", "--config", conf.toString());
    long hwmKb = 0;
    while (p.isAlive()) {
      hwmKb = Math.max(hwmKb, vmHwmKb(p.pid()));
      Thread.sleep(200);
    }
    double commandS = (System.nanoTime() - start) / 1e9;
    if (p.exitValue() != 0) {
      throw new IllegalStateException("curate failed (exit " + p.exitValue() + "): " + Files.readString(dir.resolve("curate.err")));
    }
    List<String> out = Files.readAllLines(log);
    JsonNode sum = JSON.readTree(out.get(out.size() - 1));
    double executeS = sum.get("seconds").asDouble();
    ObjectNode o = JSON.createObjectNode();
    o.put("candidates", rows);
    o.put("heap_mb_limit", heapMb);
    o.put("cores", Runtime.getRuntime().availableProcessors());
    o.put("command_seconds", Math.round(commandS * 10) / 10.0);
    o.put("execute_seconds", executeS);
    o.put("rows_per_second_execute", Math.round(rows / executeS));
    o.put("rows_per_second_command", Math.round(rows / commandS));
    o.put("jvm_peak_heap_after_gc_mb", sum.get("jvm_peak_heap_after_gc_mb").asLong());
    o.put("peak_rss_mb", hwmKb >> 10);
    o.set("drop_reasons", sum.get("drop_reasons"));
    o.put("kept", sum.get("kept").asLong());
    System.out.printf(Locale.ROOT, "curate: %d candidates: %.1f s execute (%d rows/s), %.1f s command (%d rows/s), JVM peak heap after GC %d MB, "
            + "peak RSS %d MB; drop reasons %s%n", rows, executeS, Math.round(rows / executeS), commandS, Math.round(rows / commandS),
        sum.get("jvm_peak_heap_after_gc_mb").asLong(), hwmKb >> 10, sum.get("drop_reasons"));
    return o;
  }

  private static long vmHwmKb(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (Exception e) {
      // the process ended between the check and the read
    }
    return 0;
  }

  /** The synthetic generations table: N candidates in the generations table's schema, one Delta commit. */
  static void table(SparkSession spark, Path path, int rows) {
    Column base = expr("CASE WHEN id % 10 = 7 THEN id - 1 WHEN id % 10 = 8 THEN id - 2 ELSE id END");
    Column text = expr("concat(translate(sha2(cast(k AS string), 256), '0123456789abcdef', 'あいうえおかきくけこさしすせそた'), "
        + "translate(sha2(concat('x', cast(k AS string)), 256), '0123456789abcdef', '日本東京大阪春夏秋冬山川海空雨雪風'))");
    Dataset<Row> d = spark.range(rows).withColumn("k", base).withColumn("t", text)
        .withColumn("t", expr("CASE WHEN id % 10 = 7 THEN overlay(t PLACING 'ン' FROM 40 FOR 1) ELSE t END"));
    Map<String, Column> known = Map.of(
        "run_id", lit("bench-run"),
        "id", expr("format_string('i%09d', id)"),
        "sample_index", lit(0),
        "row_key", expr("format_string('i%09d', id)"),
        "input_row", col("id"),
        "attempt", lit(1),
        "status", expr("CASE WHEN id % 100 = 99 THEN 'error' ELSE 'ok' END"),
        "prompt", col("t"),
        "output_text", expr("CASE WHEN id % 100 = 99 THEN NULL ELSE concat('答え', cast(id AS string)) END"),
        "created_at", expr("current_timestamp()"));
    List<Column> cols = new ArrayList<>();
    for (StructField f : OutputSchema.SCHEMA.fields()) {
      Column c = known.containsKey(f.name()) ? known.get(f.name()) : lit(null);
      cols.add(c.cast(f.dataType()).as(f.name()));
    }
    d.select(cols.toArray(Column[]::new)).write().format("delta").partitionBy("run_id")
        .option("userMetadata", "{\"job_kind\":\"generate\",\"run_id\":\"bench-run\",\"config_hash\":\"bench\"}")
        .save(path.toAbsolutePath().toString());
  }
}
