package dev.jgen.eval;

/**
 * The outcome of {@link GenerateJudgments}. Counts are over the run's latest rows for the input's (answer, turn)
 * judgments: {@code rowsIn == ok + error}.
 *
 * @param failedRatings ok judgments whose text holds no rating FastChat can read (score -1)
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
    double seconds) {}
