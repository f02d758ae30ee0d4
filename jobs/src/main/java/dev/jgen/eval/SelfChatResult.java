package dev.jgen.eval;

/**
 * The outcome of {@link GenerateSelfChat}: counts over the run's latest rows for the input's (row, sample) pairs,
 * {@code rowsIn == ok + error} unless a budget or deadline stopped the attempt.
 *
 * @param stoppedBy see {@link DialogueResult#stoppedBy()}
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
    String stoppedBy) implements DialogueResult {}
