package dev.jgen.delta;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;

import io.delta.tables.DeltaTable;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.StructType;

/**
 * The Delta table a job kind writes its runs to ({@code output.path}), the same for every kind: created by Delta Kernel
 * partitioned by run with change data feed on, written only by idempotent chunk appends, read back as "the latest
 * attempt of each (row, sample)". A kind differs only in its {@link Spec}: schema, sample column, properties.
 */
public final class RunTable {
  /**
   * What a kind's table is.
   *
   * @param sampleColumn the column that tells apart a row's outputs ({@code sample_index}, {@code choice_index}, {@code turn})
   * @param properties table properties set at creation
   * @param addedLater columns added after tables of this kind existed: an older table gains them (null in old rows)
   */
  public record Spec(TableKind kind, StructType schema, String sampleColumn, Map<String, String> properties,
      List<String> addedLater) {}

  private final SparkSession spark;
  private final String path;
  private final Spec spec;
  /** This job made the table a moment ago: it holds no run yet. */
  private final boolean created;

  private RunTable(SparkSession spark, String path, Spec spec, boolean created) {
    this.spark = spark;
    this.path = path;
    this.spec = spec;
    this.created = created;
  }

  /**
   * Whether {@link #openOrCreate} would create the table: a local path that does not exist, an empty folder, or a folder
   * holding only a log folder that another job is creating the table in.
   */
  public static boolean isNew(String path) {
    File local = DeltaPaths.localFile(path);
    return local != null && (!local.exists() || beingCreated(local));
  }

  private static boolean beingCreated(File local) {
    String[] names = local.isDirectory() ? local.list() : null;
    return names != null && List.of(names).stream().allMatch(n -> n.equals("_delta_log"));
  }

  /**
   * Opens the table, creating it if the path is empty; refuses a path that holds anything else, touching nothing. Jobs
   * that create the same new table at the same moment all open it: one creates it, the others find it made.
   */
  public static RunTable openOrCreate(SparkSession spark, String path, Spec spec) {
    File local = DeltaPaths.localFile(path);
    // A local path that does not exist yet is not asked about: Delta-Spark's first use costs a fresh JVM seconds.
    if ((local == null || local.exists() && !beingCreated(local)) && DeltaTable.isDeltaTable(spark, path)) {
      return openExisting(spark, path, spec, "output.path " + path, true);
    }
    if (local != null && local.exists() && !beingCreated(local)) {
      throw new RefusedException("output.path " + path + " exists and is not a Delta table; choose another output.path");
    }
    // Made by Delta Kernel (KernelTables): in a fresh JVM, Delta-Spark's CREATE TABLE took 3-4 s of a small run's start.
    // The same table as Delta-Spark made: schema, partitioning, properties, protocol (RunTableTest).
    boolean made = KernelTables.create(spark, local != null ? local.getAbsolutePath() : path, spec.schema(), List.of("run_id"),
        spec.properties());
    // Another job made it first: whatever it made is checked as any existing table is.
    return made ? new RunTable(spark, path, spec, true) : openExisting(spark, path, spec, "output.path " + path, true);
  }

  /** Opens an existing table of this kind for reading (the inspecting and exporting commands). */
  public static RunTable open(SparkSession spark, String path, Spec spec) {
    if (!DeltaTable.isDeltaTable(spark, path)) {
      throw new RefusedException(path + ": not a Delta table");
    }
    return openExisting(spark, path, spec, path, false);
  }

  /** @param write the table is opened to append to: an older table gains the later columns (a read leaves it as it is) */
  private static RunTable openExisting(SparkSession spark, String path, Spec spec, String named, boolean write) {
    StructType expected = spec.schema();
    if (write) {
      addMissingLaterColumns(spark, path, spec);
    } else {
      for (String later : spec.addedLater()) {
        expected = new StructType(java.util.Arrays.stream(expected.fields()).filter(f -> !f.name().equals(later))
            .toArray(org.apache.spark.sql.types.StructField[]::new));
      }
    }
    String problem = DeltaPaths.mismatch(spark.read().format("delta").load(path).schema(), expected);
    if (problem != null) {
      throw new RefusedException(named + " is a Delta table but not a jgen " + spec.kind().what() + " table (" + problem
          + "); choose another output.path");
    }
    return new RunTable(spark, path, spec, false);
  }

  /** A table made before a later column existed gains it, null in old rows. */
  private static void addMissingLaterColumns(SparkSession spark, String path, Spec spec) {
    if (spec.addedLater().isEmpty()) {
      return;
    }
    List<String> have = List.of(spark.read().format("delta").load(path).schema().fieldNames());
    List<String> add = new ArrayList<>();
    for (String name : spec.addedLater()) {
      if (!have.contains(name)) {
        add.add(name + " " + spec.schema().apply(name).dataType().sql());
      }
    }
    // Only a jgen table (one that has run_id and status) is migrated; anything else is refused by the check after this.
    if (!add.isEmpty() && have.contains("run_id") && have.contains("status")) {
      File local = DeltaPaths.localFile(path);
      String location = local != null ? local.getAbsolutePath() : path;
      spark.sql("ALTER TABLE delta.`" + location.replace("`", "``") + "` ADD COLUMNS (" + String.join(", ", add) + ")");
    }
  }

  public String path() {
    return path;
  }

  public Spec spec() {
    return spec;
  }

  public Dataset<Row> all() {
    return spark.read().format("delta").load(path);
  }

  public Dataset<Row> run(String runId) {
    return all().where(col("run_id").equalTo(lit(runId)));
  }

  /** Each (row, sample) of the run once: its latest attempt. */
  public Dataset<Row> latest(String runId) {
    return latestOf(run(runId));
  }

  /** The latest attempt of every (run, row, sample) in the table. */
  public Dataset<Row> latestOfEveryRun() {
    return latestOf(all());
  }

  private Dataset<Row> latestOf(Dataset<Row> rows) {
    var w = Window.partitionBy("run_id", "row_key", spec.sampleColumn()).orderBy(col("attempt").desc(), col("created_at").desc());
    return rows.withColumn("_rank", functions.row_number().over(w)).where(col("_rank").equalTo(1)).drop("_rank");
  }

  /** Whether this job made the table a moment ago (it holds no rows yet: nothing to resume, nothing to reuse). */
  public boolean createdNow() {
    return created;
  }

  /** The highest attempt recorded for the run, 0 when the run has no rows. */
  public int lastAttempt(String runId) {
    if (created) {
      return 0; // this job made the table a moment ago: no query needed (a small run feels each one)
    }
    Row r = run(runId).agg(max("attempt")).first();
    return r.isNullAt(0) ? 0 : r.getInt(0);
  }

  /** The runs the table holds, by id. */
  public List<String> runIds() {
    return all().select("run_id").distinct().orderBy("run_id").collectAsList().stream().map(r -> r.getString(0)).toList();
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
    Thread t = new Thread(() -> {
      try {
        org.apache.spark.sql.delta.DeltaLog.forTable(spark, path).unsafeVolatileSnapshot().transactions();
      } catch (Exception e) { // Spark's checked exceptions too, thrown undeclared
        // the append reads them itself, and reports what fails
      }
    }, "jgen-delta-state");
    t.setDaemon(true);
    t.start();
  }

  /**
   * Appends one chunk of an attempt. Its transaction id ({@link TableKind#chunkIdPrefix} and the chunk number, version
   * 0) makes a replay of the same chunk by the same attempt a no-op, and {@code userMetadata} carries the run's lineage
   * into the table history.
   */
  public void appendChunk(Dataset<Row> rows, String runId, int attempt, long chunk, String userMetadata) {
    rows.write()
        .format("delta")
        .mode("append")
        .option("txnAppId", spec.kind().chunkIdPrefix(runId, attempt) + chunk)
        .option("txnVersion", 0L)
        .option("userMetadata", userMetadata)
        .save(path);
  }

  /**
   * job.reuse: an attempt's copies of earlier runs' rows, in one idempotent commit under the attempt's chunk id
   * {@code <prefix>reuse} (which a later attempt's fence covers like its numbered chunks).
   */
  public void appendReused(Dataset<Row> rows, String runId, int attempt, String userMetadata) {
    rows.write()
        .format("delta")
        .mode("append")
        .option("txnAppId", spec.kind().chunkIdPrefix(runId, attempt) + ChunkFence.REUSE_CHUNK)
        .option("txnVersion", 0L)
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
