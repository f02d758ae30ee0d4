package dev.jgen.delta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runs table is read and written through Delta Kernel and read by Spark (`jgen runs`): both must see the same
 * records, including in tables that Spark made (every runs table before Kernel wrote them).
 */
class RunsTableTest {
  @TempDir Path dir;

  private static RunRecord record(String run, int attempt, String status, Timestamp beat) {
    return new RunRecord(run, attempt, status, "owner-" + attempt, "hash", "{}", "model", "sha", "v", beat, beat, null,
        12L, 12L, 11L, 1L, 0L, 500L, 300L, 42.5, 60L, 7.25, 9.5, "done", 120L);
  }

  @Test
  void recordsWrittenByKernelAreReadBackExactlyAndBySparkAlsoInATableSparkMade() {
    SparkSession spark = TestSpark.get();
    String path = dir.resolve("made_by_spark_runs").toString();
    // how runs tables were created before: an empty append through Spark
    spark.createDataFrame(List.of(), RunsTable.SCHEMA).write().format("delta").mode("append").save(path);
    RunsTable runs = RunsTable.openIfExists(spark, path).orElseThrow();

    Timestamp t1 = Timestamp.valueOf("2026-11-30 12:00:00.123456");
    Timestamp t2 = Timestamp.valueOf("2026-11-30 12:00:20.654321");
    runs.upsert(record("a", 1, "running", t1));
    runs.upsert(record("a", 1, "finished", t2));
    runs.upsert(record("b", 1, "running", t1));

    List<RunRecord> a = runs.attempts("a");
    assertEquals(1, a.size(), "one attempt, its newest record: " + a);
    assertEquals(record("a", 1, "finished", t2), a.get(0), "every field back as written, timestamps to the microsecond");
    assertEquals("running", runs.attempts("b").get(0).status());
    assertTrue(runs.attempts("c").isEmpty());

    List<Row> bySpark = runs.all().orderBy("run_id").collectAsList();
    assertEquals(2, bySpark.size());
    assertEquals(RunRecord.fromRow(bySpark.get(0)), a.get(0), "Spark reads what Kernel wrote");
  }

  /**
   * A runs table made before cached_tokens (issue 28) keeps its schema (Kernel adds no column without column mapping):
   * records are written and read back with every other field, cached_tokens read as null; Spark reads it too.
   */
  @Test
  void aTableWithoutCachedTokensTakesRecordsWithoutIt() {
    SparkSession spark = TestSpark.get();
    String path = dir.resolve("older_runs").toString();
    org.apache.spark.sql.types.StructType older = new org.apache.spark.sql.types.StructType(java.util.Arrays.stream(RunsTable.SCHEMA.fields())
        .filter(f -> !f.name().equals("cached_tokens")).toArray(org.apache.spark.sql.types.StructField[]::new));
    spark.createDataFrame(List.of(), older).write().format("delta").mode("append").save(path);
    RunsTable runs = RunsTable.openIfExists(spark, path).orElseThrow();
    Timestamp t = Timestamp.valueOf("2026-12-06 19:00:00");
    runs.upsert(record("old", 1, "finished", t));
    RunRecord back = runs.attempts("old").get(0);
    assertEquals(null, back.cachedTokens(), "the table has no such column");
    assertEquals(record("old", 1, "finished", t).completionTokens(), back.completionTokens());
    assertEquals(List.of(older.fieldNames()), List.of(spark.read().format("delta").load(path).schema().fieldNames()),
        "the table's columns are unchanged");
    assertEquals(1, runs.all().count());
  }

  @Test
  void aTableKernelCreatesIsAnOrdinaryDeltaTableForSpark() {
    SparkSession spark = TestSpark.get();
    String path = dir.resolve("new_runs").toString();
    assertTrue(RunsTable.openIfExists(spark, path).isEmpty());
    RunsTable runs = RunsTable.openOrCreate(spark, path);
    assertTrue(RunsTable.openIfExists(spark, path).isPresent());
    assertEquals(RunsTable.SCHEMA, spark.read().format("delta").load(path).schema());
    Timestamp t = Timestamp.valueOf("2026-11-30 08:00:00.5");
    runs.upsert(record("x", 2, "failed", t));
    // Spark appends to it as well (a table shared with older jgen versions)
    spark.createDataFrame(List.of(record("x", 3, "running", t).toRow()), RunsTable.SCHEMA).write().format("delta")
        .mode("append").save(path);
    assertEquals(List.of(2, 3), runs.attempts("x").stream().map(RunRecord::attempt).toList());
    RunsTable.openOrCreate(spark, path); // opening again creates nothing
    assertEquals(2, spark.read().format("delta").load(path).count());
  }

  @Test
  void recordsAppendedAtOnceByManyWritersAreAllKept() throws Exception {
    SparkSession spark = TestSpark.get();
    String path = dir.resolve("busy_runs").toString();
    RunsTable.openOrCreate(spark, path);
    int writers = 4;
    int each = 5;
    var pool = java.util.concurrent.Executors.newFixedThreadPool(writers);
    try {
      List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
      for (int w = 1; w <= writers; w++) {
        int attempt = w;
        // each writer its own handle, as two jobs on one table have (a Delta commit conflict, resolved by Kernel)
        RunsTable runs = RunsTable.openIfExists(spark, path).orElseThrow();
        done.add(pool.submit(() -> {
          for (int k = 0; k < each; k++) {
            runs.upsert(record("c", attempt, "running", new Timestamp(1_800_000_000_000L + k * 1000L)));
          }
          return null;
        }));
      }
      for (var f : done) {
        f.get(2, java.util.concurrent.TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals((long) writers * each, spark.read().format("delta").load(path).count(), "no record lost to a conflict");
    assertEquals(List.of(1, 2, 3, 4), RunsTable.openIfExists(spark, path).orElseThrow().attempts("c").stream()
        .map(RunRecord::attempt).toList());
  }
}
