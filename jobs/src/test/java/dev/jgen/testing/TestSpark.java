package dev.jgen.testing;

import dev.jgen.engine.EngineRegistry;
import org.apache.spark.sql.SparkSession;

/**
 * The one SparkSession of the test JVM (local[2], two shuffle partitions, Delta on): a cold Spark costs seconds, so
 * every Spark test shares it.
 */
public final class TestSpark {
  private static SparkSession spark;

  private TestSpark() {}

  /**
   * Makes {@code session} the JVM's shared one, before any test made its own: a benchmark that measures what the
   * command does uses the session the command would build (SparkSessions), not the tests' smaller one.
   */
  public static synchronized void use(SparkSession session) {
    if (spark != null && spark != session) {
      throw new IllegalStateException("a SparkSession is already in use: " + spark.sparkContext().master());
    }
    spark = session;
  }

  /** Whether the shared session exists yet. */
  public static synchronized boolean started() {
    return spark != null;
  }

  public static synchronized SparkSession get() {
    if (spark == null) {
      spark = SparkSession.builder()
          .master("local[2]")
          .appName("jgen-tests")
          .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
          .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
          .config(dev.jgen.delta.DeltaLogStores.SPARK_KEY, dev.jgen.delta.DeltaLogStores.LOCAL_FILE)
          .config("spark.sql.shuffle.partitions", "2")
          .config("spark.default.parallelism", "2")
          .config("spark.databricks.delta.snapshotPartitions", "2")
          .config("spark.ui.enabled", "false")
          .config("spark.ui.showConsoleProgress", "false")
          .config("spark.driver.host", "127.0.0.1")
          // as SparkSessions sets local mode: running tasks' accumulators reach the driver every second
          .config("spark.executor.heartbeatInterval", "1s")
          // as SparkSessions sets it: a heartbeat never calls an executor-side accumulator's isZero
          .config(dev.jgen.spark.SparkSessions.HEARTBEAT_DROP_ZEROES, "false")
          .getOrCreate();
      spark.sparkContext().setLogLevel("WARN");
      Runtime.getRuntime().addShutdownHook(new Thread(EngineRegistry::closeAll));
    }
    return spark;
  }
}
