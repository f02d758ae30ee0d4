package dev.jgen.spark;

import dev.jgen.config.ConfigKeys;
import dev.jgen.config.JobConfig;
import dev.jgen.delta.DeltaLogStores;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** Builds the job's SparkSession with Delta enabled; under spark-submit the master and settings given there win. */
public final class SparkSessions {
  /**
   * Set to false: executors send every accumulator of a running task with each heartbeat, zeros included, so they
   * never call an accumulator's {@code isZero} there. Why: Spark registers an accumulator with its task while the task
   * is being deserialized, before the accumulator's own fields are read, and Spark 4.2's
   * {@code PartitionKeyedAccumulator} (DataFrame caching) throws from {@code isZero} in that window; the exception
   * escapes the executor's heartbeat thread, which then never beats again, and the driver drops the executor two
   * minutes later ("Uncaught exception in thread executor-heartbeater", then "Removing executor driver with no recent
   * heartbeats", seen in a full test run; on a cluster the executor, and its loaded model, are killed). On the driver the
   * same half-read accumulator costs at most one heartbeat's reply.
   */
  public static final String HEARTBEAT_DROP_ZEROES = "spark.executor.heartbeat.dropZeroAccumulatorUpdates";

  private SparkSessions() {}

  public static SparkSession create(JobConfig config) {
    return create(config.string(ConfigKeys.SPARK_APP_NAME), config.string(ConfigKeys.SPARK_MASTER), config.map(ConfigKeys.SPARK_CONF));
  }

  /** A session for read-only commands (show, runs, export): local unless under spark-submit. */
  public static SparkSession forReading(String appName) {
    return create(appName, null, Map.of("spark.sql.shuffle.partitions", "4", "spark.databricks.delta.snapshotPartitions", "4"));
  }

  private static SparkSession create(String appName, String master, Map<String, Object> conf) {
    SparkConf submitted = new SparkConf();
    int cores = Math.max(2, Runtime.getRuntime().availableProcessors());
    SparkSession.Builder b = SparkSession.builder().appName(appName);
    if (master != null) {
      b.master(master);
    } else if (!submitted.contains("spark.master")) {
      // One task slot more than cores: every chunk in flight holds its slots while it generates (its tasks mostly wait
      // for the engine), and Delta's own jobs before a chunk's write (the snapshot's state) need a free one; without
      // it the next chunk could only start after a chunk ended, leaving the engine to drain meanwhile.
      b.master("local[" + (cores + 1) + "]");
    }
    b.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        // A generation task holds an engine busy for minutes: a speculative copy would only burn it twice.
        .config("spark.speculation", "false")
        .config("spark.ui.showConsoleProgress", "false");
    if (!submitted.contains(HEARTBEAT_DROP_ZEROES)) {
      b.config(HEARTBEAT_DROP_ZEROES, "false");
    }
    if (!submitted.contains(DeltaLogStores.SPARK_KEY)) {
      // commits to local tables that are atomic across jobs (Delta's default store can lose one of two racing commits)
      b.config(DeltaLogStores.SPARK_KEY, DeltaLogStores.LOCAL_FILE);
    }
    if (master != null && master.startsWith("local") || master == null && !submitted.contains("spark.master")) {
      // Local mode: nothing to serve to a cluster, and the loopback address keeps it off the network. Spark's and
      // Delta's partition defaults (200 shuffle partitions, 50 for every Delta snapshot) are sized for clusters: on a
      // laptop they turn each small table read into hundreds of tasks.
      b.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
          // Heartbeats carry running tasks' accumulator updates: a chunk's task that ran out of input is heard within
          // a second (ChunkedRun starts the next chunk then), not ten. In one JVM a beat costs nothing.
          .config("spark.executor.heartbeatInterval", "1s")
          .config("spark.sql.shuffle.partitions", String.valueOf(cores))
          .config("spark.databricks.delta.snapshotPartitions", String.valueOf(cores));
    } else {
      // A generation table's metadata is small; 50 snapshot partitions per read only add tasks.
      b.config("spark.databricks.delta.snapshotPartitions", "8");
    }
    // jgen's metrics source (JgenMetrics) beside any plugin the job or spark-submit names.
    String plugins = conf.containsKey("spark.plugins") ? String.valueOf(conf.get("spark.plugins"))
        : submitted.get("spark.plugins", "");
    for (Map.Entry<String, Object> e : conf.entrySet()) {
      b.config(e.getKey(), String.valueOf(e.getValue()));
    }
    b.config("spark.plugins", plugins.contains(JgenMetrics.class.getName()) ? plugins
        : plugins.isBlank() ? JgenMetrics.class.getName() : plugins + "," + JgenMetrics.class.getName());
    return b.getOrCreate();
  }
}
