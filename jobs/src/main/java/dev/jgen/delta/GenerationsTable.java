package dev.jgen.delta;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;

import io.delta.tables.DeltaTable;
import java.io.File;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;

/**
 * The generations Delta table at {@code output.path}: created with change data feed on and partitioned by run, written
 * only by idempotent appends, and read back as "the latest attempt of each (row, sample)".
 */
public final class GenerationsTable {
  private final SparkSession spark;
  private final String path;
  private final boolean created;

  private GenerationsTable(SparkSession spark, String path, boolean created) {
    this.spark = spark;
    this.path = path;
    this.created = created;
  }

  /** Whether {@link #openOrCreate} would create the table: a local path that does not exist or is an empty folder. */
  public static boolean isNew(String path) {
    File local = DeltaPaths.localFile(path);
    return local != null && (!local.exists() || local.isDirectory() && local.list().length == 0);
  }

  /** Opens the table, creating it if the path is empty; refuses a path that holds anything else, touching nothing. */
  public static GenerationsTable openOrCreate(SparkSession spark, String path) {
    File local = DeltaPaths.localFile(path);
    // A local path that does not exist yet is not asked about: Delta-Spark's first use costs a fresh JVM seconds.
    if ((local == null || local.exists()) && DeltaTable.isDeltaTable(spark, path)) {
      addMissingLaterColumns(spark, path);
      String problem = DeltaPaths.mismatch(spark.read().format("delta").load(path).schema(), OutputSchema.SCHEMA);
      if (problem != null) {
        throw new IllegalStateException("output.path " + path + " is a Delta table but not a jgen generations table ("
            + problem + "); choose another output.path");
      }
      return new GenerationsTable(spark, path, false);
    }
    if (local != null && local.exists() && (!local.isDirectory() || local.list().length > 0)) {
      throw new IllegalStateException("output.path " + path + " exists and is not a Delta table; choose another output.path");
    }
    // Made by Delta Kernel (KernelTables): in a fresh JVM, Delta-Spark's CREATE TABLE took 3-4 s of a small run's start.
    // The same table as Delta-Spark made: schema, partitioning, properties, protocol (GenerationsTableTest).
    KernelTables.create(spark, local != null ? local.getAbsolutePath() : path, OutputSchema.SCHEMA, java.util.List.of("run_id"),
        java.util.Map.of("delta.enableChangeDataFeed", "true", "delta.appendOnly", "false"));
    return new GenerationsTable(spark, path, true);
  }

  /** Structured output (issue 13): a table made before output_json/constraint_sha256 existed gains them, null in old rows. */
  private static void addMissingLaterColumns(SparkSession spark, String path) {
    java.util.List<String> have = java.util.List.of(spark.read().format("delta").load(path).schema().fieldNames());
    java.util.List<String> add = new java.util.ArrayList<>();
    for (String name : OutputSchema.ADDED_LATER) {
      if (!have.contains(name)) {
        add.add(name + " " + OutputSchema.SCHEMA.apply(name).dataType().sql());
      }
    }
    // Only a jgen table (one that has run_id and status) is migrated; anything else is refused by the check after this.
    if (!add.isEmpty() && have.contains("run_id") && have.contains("status")) {
      File local = DeltaPaths.localFile(path);
      String location = local != null ? local.getAbsolutePath() : path;
      spark.sql("ALTER TABLE delta.`" + location.replace("`", "``") + "` ADD COLUMNS (" + String.join(", ", add) + ")");
    }
  }

  /** Opens an existing table for reading, or fails with the path. */
  public static GenerationsTable open(SparkSession spark, String path) {
    if (!DeltaTable.isDeltaTable(spark, path)) {
      throw new IllegalArgumentException("--output " + path + ": not a Delta table");
    }
    return new GenerationsTable(spark, path, false);
  }

  public String path() {
    return path;
  }

  public Dataset<Row> all() {
    return spark.read().format("delta").load(path);
  }

  public Dataset<Row> run(String runId) {
    return all().where(col("run_id").equalTo(lit(runId)));
  }

  /** Each (row_key, sample_index) of the run once: its latest attempt. */
  public Dataset<Row> latest(String runId) {
    return latestOf(run(runId));
  }

  /** The latest attempt of every (run, row_key, sample_index) in the table. */
  public Dataset<Row> latestOfEveryRun() {
    return latestOf(all());
  }

  private static Dataset<Row> latestOf(Dataset<Row> rows) {
    var w = Window.partitionBy("run_id", "row_key", "sample_index").orderBy(col("attempt").desc(), col("created_at").desc());
    return rows.withColumn("_rank", functions.row_number().over(w)).where(col("_rank").equalTo(1)).drop("_rank");
  }

  /** The highest attempt recorded for the run, 0 when the run has no rows. */
  public int lastAttempt(String runId) {
    if (created) {
      return 0; // this job made the table a moment ago: no query needed (a small run feels each one)
    }
    Row r = run(runId).agg(max("attempt")).first();
    return r.isNullAt(0) ? 0 : r.getInt(0);
  }

  /**
   * Starts, on a daemon thread, what the next idempotent append waits for: Delta checks a chunk's transaction id
   * against the table's, and it gets those by replaying the table's whole log into the latest snapshot's cached state
   * (a few Spark jobs: seconds in a fresh JVM or on busy cores, whatever the table's size). Called when the table is
   * open (while the input is read and checked, jobs of one or two tasks that leave the other cores idle) and after each
   * commit that more chunks follow (while the chunks in flight generate), so the next chunk's write finds the state
   * computed and its generation starts at once. An append that comes before the replay ends waits for it; one after
   * another commit replays again, as without this.
   */
  public void prepareAppends() {
    prepareAppends(spark, path);
  }

  /** {@link #prepareAppends()} for any Delta table this JVM appends to idempotently. */
  public static void prepareAppends(SparkSession spark, String path) {
    Thread t = new Thread(() -> {
      try {
        org.apache.spark.sql.delta.DeltaLog.forTable(spark, path).unsafeVolatileSnapshot().transactions();
      } catch (RuntimeException e) {
        // the append reads them itself, and reports what fails
      }
    }, "jgen-delta-state");
    t.setDaemon(true);
    t.start();
  }

  /**
   * Appends one chunk. {@code txnAppId}/{@code txnVersion} make a replay of the same chunk by the same attempt a no-op,
   * and {@code userMetadata} carries the run's lineage into the table history.
   */
  public void append(Dataset<Row> rows, String appId, long version, String userMetadata) {
    append(rows, path, appId, version, userMetadata);
  }

  /** {@link #append(Dataset, String, long, String)} to any Delta table (the MT-Bench and self-chat tables too). */
  public static void append(Dataset<Row> rows, String path, String appId, long version, String userMetadata) {
    rows.write()
        .format("delta")
        .mode("append")
        .option("txnAppId", appId)
        .option("txnVersion", version)
        .option("userMetadata", userMetadata)
        .save(path);
  }

  /** run.mode=new: removes the run's rows in one commit (the run's history stays in the table's versions). */
  public void deleteRun(String runId) {
    DeltaTable.forPath(spark, path).delete(col("run_id").equalTo(lit(runId)));
  }

  /** Compacts the run's partition after many small chunk commits. */
  public void optimizeRun(String runId) {
    DeltaTable.forPath(spark, path).optimize().where("run_id = '" + runId.replace("'", "''") + "'").executeCompaction();
  }
}
