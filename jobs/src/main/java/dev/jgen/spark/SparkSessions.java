package dev.jgen.spark;

import dev.jgen.config.ConfigKeys;
import dev.jgen.config.JobConfig;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** Builds the job's SparkSession with Delta enabled; under spark-submit the master and settings given there win. */
public final class SparkSessions {
  private SparkSessions() {}

  public static SparkSession create(JobConfig config) {
    SparkConf submitted = new SparkConf();
    SparkSession.Builder b = SparkSession.builder().appName(config.string(ConfigKeys.SPARK_APP_NAME));
    if (config.isSet(ConfigKeys.SPARK_MASTER)) {
      b.master(config.string(ConfigKeys.SPARK_MASTER));
    } else if (!submitted.contains("spark.master")) {
      b.master("local[*]");
    }
    b.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        // A generation task holds an engine busy for minutes: a speculative copy would only burn it twice.
        .config("spark.speculation", "false")
        .config("spark.ui.showConsoleProgress", "false");
    for (Map.Entry<String, Object> e : config.map(ConfigKeys.SPARK_CONF).entrySet()) {
      b.config(e.getKey(), String.valueOf(e.getValue()));
    }
    return b.getOrCreate();
  }
}
