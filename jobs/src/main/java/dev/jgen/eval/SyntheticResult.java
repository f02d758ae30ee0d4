package dev.jgen.eval;

/**
 * The outcome of a synthetic-data kind ({@link GenerateMagpie}, {@link GenerateScores}): counts over the run's latest
 * rows for the input's (row, sample) pairs, {@code rowsIn == ok + error} unless a budget or deadline stopped the attempt.
 *
 * @param stoppedBy see {@link DialogueResult#stoppedBy()}
 */
public record SyntheticResult(
    String kind,
    String runId,
    int attempt,
    long rowsIn,
    long ok,
    long error,
    long generatedNow,
    String output,
    long promptTokensNow,
    long completionTokensNow,
    double seconds,
    String stoppedBy) implements DialogueResult {}
