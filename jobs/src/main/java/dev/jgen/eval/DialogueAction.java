package dev.jgen.eval;

import dev.jgen.spark.GenerateJob;
import java.io.PrintStream;
import org.apache.spark.sql.SparkSession;

/**
 * What every dialogue kind's action shares (MT-Bench answers, judgments, scores, self-chat, Magpie): its session and
 * job, the two options a resume needs, and the run itself, which is {@link DialogueRun}'s (claim, lock, resume,
 * chunked commits). A kind adds its own options and {@link #execute()}, which describes its dialogues as a
 * {@link DialogueRun.Kind} and hands them to {@link #run}.
 *
 * @param <A> the kind's own class, so that the options chain on it
 * @param <R> what {@link #execute()} returns
 */
public abstract class DialogueAction<A extends DialogueAction<A, R>, R> {
  protected final SparkSession spark;
  protected final GenerateJob job;
  private PrintStream progress = System.err;
  private boolean retryErrors;

  DialogueAction(SparkSession spark, GenerateJob job) {
    this.spark = spark;
    this.job = job;
  }

  /** Where the per-step progress lines go (null: nowhere). */
  public A progress(PrintStream out) {
    this.progress = out;
    return self();
  }

  /** Regenerate the run's error rows too (as a new attempt); by default a resume skips every row already written. */
  public A retryErrors(boolean retry) {
    this.retryErrors = retry;
    return self();
  }

  /** Runs the kind to the end of its input (or to its budget or deadline) and says what it wrote. */
  public abstract R execute();

  /** Runs the dialogues with this action's options. */
  final DialogueRun.Outcome run(DialogueRun.Kind kind, String idColumn, String idName) {
    return new DialogueRun(spark, job, kind, idColumn, idName).progress(progress).retryErrors(retryErrors).execute();
  }

  @SuppressWarnings("unchecked")
  private A self() {
    return (A) this;
  }
}
