package dev.jgen.spark;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Spark's expressions interpreted, not compiled, while a run over a small input executes. In a fresh JVM Spark compiles
 * each query's generated Java (Janino, then the JIT on top) the first time it meets it, and a small run meets dozens
 * (its own queries and Delta's log replays): measured on the 12-row demo, 1.2-1.5 s of an 8-9 s job on two cores. For
 * a few hundred rows the interpreter costs far less than that; for large inputs compiled code wins, so the settings
 * apply only below {@link #MAX_INPUT_BYTES}, only for keys the user has not set, and only until the run ends (a
 * notebook's session gets its own values back).
 *
 * <p>{@code spark.sql.codegen.factoryMode} is internal to Spark (its tests use it; unchanged since Spark 2.4). Should
 * a later Spark drop it, setting it does nothing and runs are as before; {@code spark.sql.codegen.wholeStage} is public.
 */
public final class SmallRun implements AutoCloseable {
  /**
   * Inputs up to this size (all files under the input path) count as small: about two thousand rows of short chat
   * prompts. Larger runs spend minutes generating, where compiling costs nothing that matters and compiled code runs
   * their rows faster; the serving bench's 6,000 rows (630 kB), on cores it shares with its two servers, stay compiled.
   */
  static final long MAX_INPUT_BYTES = 256L << 10;
  static final Map<String, String> SETTINGS = Map.of(
      "spark.sql.codegen.factoryMode", "NO_CODEGEN",
      "spark.sql.codegen.wholeStage", "false");

  private final SparkSession spark;
  /** The keys this run set, each with the value it replaced (null: unset before). */
  private final Map<String, String> replaced;

  private SmallRun(SparkSession spark, Map<String, String> replaced) {
    this.spark = spark;
    this.replaced = replaced;
  }

  /** Applies the settings when the input at {@code inputPath} is small; a path it cannot measure counts as large. */
  public static SmallRun forInput(SparkSession spark, String inputPath) {
    Map<String, String> replaced = new LinkedHashMap<>();
    if (inputPath != null && bytes(spark, inputPath) <= MAX_INPUT_BYTES) {
      for (Map.Entry<String, String> e : SETTINGS.entrySet()) {
        if (!spark.conf().contains(e.getKey())) {
          replaced.put(e.getKey(), null);
          spark.conf().set(e.getKey(), e.getValue());
        }
      }
    }
    return new SmallRun(spark, replaced);
  }

  /** Whether this run changed the session's settings. */
  public boolean applied() {
    return !replaced.isEmpty();
  }

  private static long bytes(SparkSession spark, String path) {
    try {
      org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(path);
      return p.getFileSystem(spark.sessionState().newHadoopConf()).getContentSummary(p).getLength();
    } catch (java.io.IOException | RuntimeException e) {
      return Long.MAX_VALUE; // a glob, a table name, no access: not known to be small
    }
  }

  @Override
  public void close() {
    for (Map.Entry<String, String> e : replaced.entrySet()) {
      spark.conf().unset(e.getKey());
    }
  }
}
