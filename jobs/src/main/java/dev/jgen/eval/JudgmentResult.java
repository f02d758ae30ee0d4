package dev.jgen.eval;

/**
 * The outcome of {@link GenerateJudgments}. Counts are over the run's latest rows for the input's (answer, turn)
 * judgments: {@code rowsIn == ok + error} unless a budget or deadline stopped the attempt.
 *
 * @param failedRatings ok judgments whose text holds no rating FastChat can read (score -1)
 * @param stoppedBy see {@link DialogueResult#stoppedBy()}
 */
public record JudgmentResult(
    String runId,
    int attempt,
    String judge,
    long rowsIn,
    long ok,
    long error,
    long failedRatings,
    long generatedNow,
    String output,
    long completionTokensNow,
    double seconds,
    String stoppedBy) implements DialogueResult {}
