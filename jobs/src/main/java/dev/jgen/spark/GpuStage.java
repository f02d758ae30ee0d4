package dev.jgen.spark;

import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.job.JobEngineProvider;
import java.util.Optional;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.resource.ExecutorResourceRequests;
import org.apache.spark.resource.ResourceProfile;
import org.apache.spark.resource.ResourceProfileBuilder;
import org.apache.spark.resource.TaskResourceRequests;
import org.apache.spark.sql.Row;

/**
 * Stage-level GPU scheduling: only the generation stage asks for GPUs, so reading the input and writing Delta run on
 * plain task slots.
 *
 * <p>Applies when the engine's provider says it runs GPU servers ({@link JobEngineProvider#gpusPerServer}: today
 * {@code djl-serving}, {@code trtllm-serve}) on a cluster master. Local mode never schedules a task that asks for GPUs
 * (the job hangs with no error), so there the RDD is returned unchanged; so it is for other engines.
 *
 * <p>The profile asks each generation task for {@code spark.task.resource.gpu.amount} of a GPU. Its default is
 * {@code 1 / (spark.executor.cores / executor GPUs)}: every core of the executor runs a generation task and the tasks
 * spread evenly over its GPUs (4 tasks per GPU when the executor's cores are not configured). Each task only prepares
 * rows and waits on HTTP; the server's batch is filled by the engine's window, which all tasks of the executor share,
 * so several tasks per GPU are there to keep preparing rows and to bridge partition boundaries, not to add load.
 *
 * <p>With dynamic allocation on, the profile also asks for executors with {@code spark.executor.resource.gpu.amount}
 * GPUs (default: GPUs per server) found by the configured discovery script. With it off, Spark (3.4+) accepts only a
 * task-level profile, and the executors must already have GPUs from the cluster config
 * ({@code conf/spark/gpu-cluster.conf}); without {@code spark.executor.resource.gpu.amount} there the stage is left
 * unpinned (asking would hang), and the engine balances requests over its servers instead.
 */
public final class GpuStage {
  static final String EXECUTOR_GPU_AMOUNT = "spark.executor.resource.gpu.amount";
  static final String EXECUTOR_GPU_SCRIPT = "spark.executor.resource.gpu.discoveryScript";
  static final String EXECUTOR_GPU_VENDOR = "spark.executor.resource.gpu.vendor";
  static final String TASK_GPU_AMOUNT = "spark.task.resource.gpu.amount";
  static final String DEFAULT_TASKS_PER_GPU_WITHOUT_CORES = "4";

  private GpuStage() {}

  /** The RDD whose partitions run the engine, with a GPU resource profile where one applies. */
  public static <T> JavaRDD<T> forGeneration(JavaRDD<T> rdd, SparkContext sc, EngineSpec spec) {
    if (sc.isLocal()) {
      return rdd;
    }
    Optional<ResourceProfile> profile = profile(sc.getConf(), spec);
    return profile.isPresent() ? rdd.withResources(profile.get()) : rdd;
  }

  /** The generation stage's profile for this configuration, or empty when the stage must not ask for GPUs. */
  public static Optional<ResourceProfile> profile(SparkConf conf, EngineSpec spec) {
    int gpusPerServer = spec == null ? 0 : JobEngineProvider.find(spec.kind()).map(p -> p.gpusPerServer(spec)).orElse(0);
    if (gpusPerServer <= 0) {
      return Optional.empty();
    }
    boolean dynamic = conf.getBoolean("spark.dynamicAllocation.enabled", false);
    if (!dynamic && !conf.contains(EXECUTOR_GPU_AMOUNT)) {
      return Optional.empty();
    }
    long executorGpus = conf.getLong(EXECUTOR_GPU_AMOUNT, gpusPerServer);
    double taskAmount = conf.contains(TASK_GPU_AMOUNT)
        ? Double.parseDouble(conf.get(TASK_GPU_AMOUNT))
        : defaultTaskAmount(conf, executorGpus);
    ResourceProfileBuilder b = new ResourceProfileBuilder();
    if (dynamic) {
      ExecutorResourceRequests executor = new ExecutorResourceRequests()
          .resource("gpu", executorGpus, conf.get(EXECUTOR_GPU_SCRIPT, ""), conf.get(EXECUTOR_GPU_VENDOR, ""));
      b.require(executor);
    }
    b.require(new TaskResourceRequests().cpus(conf.getInt("spark.task.cpus", 1)).resource("gpu", taskAmount));
    return Optional.of(b.build());
  }

  /**
   * One task per executor core, spread over the executor's GPUs: {@code 1 / tasksPerGpu}, where tasksPerGpu is the
   * executor's cores per GPU (at least 1), or 4 when {@code spark.executor.cores} is not set. Spark counts
   * {@code floor(1 / amount)} tasks per address, so the value is exactly 1/n.
   */
  static double defaultTaskAmount(SparkConf conf, long executorGpus) {
    int tasksPerGpu;
    if (conf.contains("spark.executor.cores")) {
      int cores = conf.getInt("spark.executor.cores", 1) / Math.max(1, conf.getInt("spark.task.cpus", 1));
      tasksPerGpu = (int) Math.max(1, cores / Math.max(1, executorGpus));
    } else {
      tasksPerGpu = Integer.parseInt(DEFAULT_TASKS_PER_GPU_WITHOUT_CORES);
    }
    return 1.0 / tasksPerGpu;
  }
}
