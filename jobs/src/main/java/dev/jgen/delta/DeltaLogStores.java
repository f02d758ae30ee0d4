package dev.jgen.delta;

import org.apache.hadoop.conf.Configuration;

/**
 * Where jgen's Delta writers get their log store for local tables: {@link LocalFileLogStore}, whose commits are atomic
 * across processes. Delta-Spark reads {@link #SPARK_KEY} from the Spark configuration, Delta Kernel {@link #KERNEL_KEY}
 * from the Hadoop configuration; a value the user set for either is kept.
 */
public final class DeltaLogStores {
  /** Delta-Spark's log store for the {@code file} scheme. */
  public static final String SPARK_KEY = "spark.delta.logStore.file.impl";
  /** Delta Kernel's (DefaultEngine) log store for the {@code file} scheme. */
  public static final String KERNEL_KEY = "io.delta.kernel.logStore.file.impl";
  public static final String LOCAL_FILE = LocalFileLogStore.class.getName();

  private DeltaLogStores() {}

  /** The Hadoop configuration Kernel is given, with the local log store unless one is set. */
  public static Configuration forKernel(Configuration conf) {
    if (conf.get(KERNEL_KEY) == null) {
      conf.set(KERNEL_KEY, LOCAL_FILE);
    }
    return conf;
  }
}
