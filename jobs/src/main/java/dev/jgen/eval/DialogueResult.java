package dev.jgen.eval;

/**
 * What every multi-turn kind's result says of its attempt's end: counts over the run's latest rows for the input's
 * conversations, and why the attempt stopped early, if it did.
 */
public interface DialogueResult {
  String runId();

  /** The output table. */
  String output();

  double seconds();

  long rowsIn();

  long ok();

  long error();

  /**
   * "budget" or "deadline" when job.max_*_tokens_total or job.deadline ended the attempt with conversations left (then
   * {@code rowsIn > ok + error}; the same command continues the run); null otherwise.
   */
  String stoppedBy();

  /** What the attempt left for the next one: nothing unless {@link #stoppedBy()} is set. */
  default long left() {
    return Math.max(0, rowsIn() - ok() - error());
  }
}
