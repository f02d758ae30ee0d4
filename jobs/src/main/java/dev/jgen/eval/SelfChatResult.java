package dev.jgen.eval;

/**
 * The outcome of {@link GenerateSelfChat}: counts over the run's latest rows for the input's (row, sample) pairs,
 * {@code rowsIn == ok + error} unless a budget or deadline stopped the attempt.
 *
 * @param stoppedBy "budget" or "deadline" when job.max_*_tokens_total or job.deadline ended the attempt with work left
 *     (then {@code rowsIn > ok + error}: {@link #left()}; the same command continues the run); null otherwise
 */
public record SelfChatResult(
    String runId,
    int attempt,
    long rowsIn,
    long ok,
    long error,
    long generatedNow,
    int turns,
    String output,
    long completionTokensNow,
    double seconds,
    String stoppedBy) {
  /** What the attempt left for the next one: nothing unless {@link #stoppedBy()} is set. */
  public long left() {
    return Math.max(0, rowsIn - ok - error);
  }
}

