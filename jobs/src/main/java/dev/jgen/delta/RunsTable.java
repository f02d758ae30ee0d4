package dev.jgen.delta;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import io.delta.tables.DeltaTable;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Optional;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * One row per run attempt ({@code output.runs_path}): its configuration, timings and counts. It is also the run's lock:
 * an attempt marked {@code running} whose heartbeat is fresh keeps a second job off the same run. Written by appends
 * only (cheaper than MERGE, and the history of each attempt stays): the newest row of an attempt is its state.
 */
public final class RunsTable {
  public static final StructType SCHEMA = new StructType()
      .add("run_id", DataTypes.StringType, false)
      .add("attempt", DataTypes.IntegerType, false)
      .add("status", DataTypes.StringType, false)
      .add("owner", DataTypes.StringType)
      .add("config_hash", DataTypes.StringType)
      .add("config", DataTypes.StringType)
      .add("model_id", DataTypes.StringType)
      .add("template_sha256", DataTypes.StringType)
      .add("jgen_version", DataTypes.StringType)
      .add("started_at", DataTypes.TimestampType)
      .add("heartbeat_at", DataTypes.TimestampType)
      .add("ended_at", DataTypes.TimestampType)
      .add("rows_in", DataTypes.LongType)
      .add("generated", DataTypes.LongType)
      .add("ok", DataTypes.LongType)
      .add("error", DataTypes.LongType)
      .add("missing_from_input", DataTypes.LongType)
      .add("prompt_tokens", DataTypes.LongType)
      .add("completion_tokens", DataTypes.LongType)
      .add("completion_tokens_per_second", DataTypes.DoubleType)
      .add("model_load_ms", DataTypes.LongType)
      .add("generation_seconds", DataTypes.DoubleType)
      .add("seconds", DataTypes.DoubleType)
      .add("message", DataTypes.StringType);

  private final SparkSession spark;
  private final String path;
  /** Hadoop's settings for the heartbeat files, made once: the heartbeat must not copy the session's settings each beat. */
  private volatile org.apache.hadoop.conf.Configuration hadoopConf;

  private RunsTable(SparkSession spark, String path) {
    this.spark = spark;
    this.path = path;
  }

  public static RunsTable openOrCreate(SparkSession spark, String path) {
    if (!DeltaTable.isDeltaTable(spark, path)) {
      // An empty append creates the table (mode ignore would skip it if another job just did).
      spark.createDataFrame(List.of(), SCHEMA).write().format("delta").mode("append").save(path);
    }
    return new RunsTable(spark, path);
  }

  /** The runs table beside a generations table, or null when there is none. */
  public static Optional<RunsTable> openIfExists(SparkSession spark, String path) {
    return DeltaTable.isDeltaTable(spark, path) ? Optional.of(new RunsTable(spark, path)) : Optional.empty();
  }

  /** Default location: beside the output table, named {@code <output>_runs}. */
  public static String besideOutput(String outputPath) {
    String p = outputPath.endsWith("/") ? outputPath.substring(0, outputPath.length() - 1) : outputPath;
    return p + "_runs";
  }

  public String path() {
    return path;
  }

  /** The current state of every attempt: its newest row. */
  public Dataset<Row> all() {
    var w = Window.partitionBy("run_id", "attempt").orderBy(col("heartbeat_at").desc_nulls_last(), col("ended_at").desc_nulls_last());
    return spark.read().format("delta").load(path).withColumn("_rank", functions.row_number().over(w))
        .where(col("_rank").equalTo(1)).drop("_rank");
  }

  /**
   * The current state of each attempt of one run, by attempt number. A run has a few rows per attempt (one per heartbeat),
   * so they are collected and reduced here: the window of {@link #all()} would add a shuffle stage to every lock check,
   * a second or so of a small run's start.
   */
  public List<Row> attempts(String runId) {
    Map<Integer, Row> newest = new TreeMap<>();
    Comparator<Row> order = Comparator.comparing((Row r) -> (Timestamp) r.getAs("heartbeat_at"), Comparator.nullsFirst(Comparator.naturalOrder()))
        .thenComparing(r -> (Timestamp) r.getAs("ended_at"), Comparator.nullsFirst(Comparator.naturalOrder()));
    for (Row r : spark.read().format("delta").load(path).where(col("run_id").equalTo(lit(runId))).collectAsList()) {
      newest.merge(r.<Integer>getAs("attempt"), r, (a, b) -> order.compare(a, b) >= 0 ? a : b);
    }
    return new ArrayList<>(newest.values());
  }

  /**
   * Writes an attempt's heartbeat file, {@code _jgen_heartbeats/<run>/<attempt>} in this table's folder (a name that
   * starts with "_": Delta and VACUUM leave it alone), holding the time in ms. Through Hadoop's FileSystem, not as a
   * Delta commit: a commit is a Spark job that waits for a free task slot, and a job whose own tasks hold every slot for
   * longer than its lease would lose its lock to its own work.
   */
  public void writeHeartbeat(String runId, int attempt, long millis) throws java.io.IOException {
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(heartbeatDir(runId), Integer.toString(attempt));
    org.apache.hadoop.fs.FileSystem fs = file.getFileSystem(hadoopConf());
    try (var out = fs.create(file, true)) {
      out.write(Long.toString(millis).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }
  }

  /** The heartbeat file time (ms) of each attempt of a run that has one, by attempt number; empty when unreadable. */
  public Map<Integer, Long> heartbeats(String runId) {
    Map<Integer, Long> out = new TreeMap<>();
    try {
      org.apache.hadoop.fs.Path dir = heartbeatDir(runId);
      org.apache.hadoop.fs.FileSystem fs = dir.getFileSystem(hadoopConf());
      if (!fs.exists(dir)) {
        return out;
      }
      for (org.apache.hadoop.fs.FileStatus f : fs.listStatus(dir, p -> p.getName().matches("[0-9]+"))) {
        try (var in = fs.open(f.getPath())) {
          out.put(Integer.parseInt(f.getPath().getName()),
              Long.parseLong(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim()));
        } catch (NumberFormatException e) {
          // a file caught while being written: the table's record speaks for that attempt
        }
      }
    } catch (java.io.IOException e) {
      // unreadable now: the table's records alone judge the lock
    }
    return out;
  }

  private org.apache.hadoop.conf.Configuration hadoopConf() {
    org.apache.hadoop.conf.Configuration c = hadoopConf;
    if (c == null) {
      c = spark.sessionState().newHadoopConf();
      hadoopConf = c;
    }
    return c;
  }

  private org.apache.hadoop.fs.Path heartbeatDir(String runId) {
    return new org.apache.hadoop.fs.Path(new org.apache.hadoop.fs.Path(path, "_jgen_heartbeats"), runId);
  }

  /** Records the attempt's new state. */
  public void upsert(RunRecord run) {
    spark.createDataFrame(List.of(run.toRow()), SCHEMA).write().format("delta").mode("append").save(path);
  }

  public static Timestamp now() {
    return new Timestamp(System.currentTimeMillis());
  }
}
