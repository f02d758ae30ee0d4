package dev.jgen.eval;

import dev.jgen.prompt.PromptSpec;
import dev.jgen.spark.GenerateJob;
import java.io.PrintStream;
import java.util.Locale;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

/**
 * Runs dialogues through passes on the driver's behalf: pass k generates, for every dialogue that needs it, the next
 * turn with the conversation so far. Each pass's result is persisted and counted before the next starts, so a later
 * pass never regenerates an earlier one (barring a lost cache block, when Spark recomputes it with the same seeds).
 */
final class DialogueRunner implements AutoCloseable {
  private final SparkSession spark;
  private final GenerateJob job;
  private final Broadcast<PromptSpec> prompts;
  private final DialoguePass.Counters counters;
  private JavaRDD<Dialogue> current;
  private final long start = System.nanoTime();

  DialogueRunner(SparkSession spark, GenerateJob job, JavaRDD<Dialogue> dialogues, int partitions) {
    this.spark = spark;
    this.job = job;
    this.prompts = JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(job.prompts());
    var sc = spark.sparkContext();
    this.counters = new DialoguePass.Counters(sc.longAccumulator("jgen.eval.generated"), sc.longAccumulator("jgen.eval.failed"),
        sc.longAccumulator("jgen.eval.prompt_tokens"), sc.longAccumulator("jgen.eval.completion_tokens"));
    this.current = dialogues.repartition(partitions).persist(StorageLevel.MEMORY_AND_DISK());
    this.current.count();
  }

  /** Runs one pass; prints one progress line. */
  void pass(int pass, int of, DialoguePass.Planner planner, PrintStream progress, String what) {
    long generatedBefore = counters.generated().value();
    long failedBefore = counters.failed().value();
    JavaRDD<Dialogue> next = current.mapPartitions(new DialoguePass(job.runId(), pass, planner, job.engine(), prompts, counters))
        .persist(StorageLevel.MEMORY_AND_DISK());
    next.count();
    current.unpersist(false);
    current = next;
    if (progress != null) {
      progress.printf(Locale.ROOT, "jgen: %s %d/%d: %d generated, %d failed, %.1f s%n", what, pass, of,
          counters.generated().value() - generatedBefore, counters.failed().value() - failedBefore,
          (System.nanoTime() - start) / 1e9);
    }
  }

  JavaRDD<Dialogue> dialogues() {
    return current;
  }

  long completionTokens() {
    return counters.completionTokens().value();
  }

  long generated() {
    return counters.generated().value();
  }

  double seconds() {
    return (System.nanoTime() - start) / 1e9;
  }

  @Override
  public void close() {
    current.unpersist(false);
    prompts.destroy();
  }
}
