package dev.jgen.engine;

/**
 * The prefix a prompt shares with others, as one number: the hash of its first token ids. Rows whose prompts begin with
 * the same tokens (a system prompt, few-shot examples, a rubric) get the same hash, which the job orders rows by and the
 * GPU servers' router keeps on one server, so that engines' prefix caches see them together (issue 28).
 */
public final class PromptPrefix {
  /** No prefix: routing by load alone. */
  public static final long NONE = Long.MIN_VALUE;

  private PromptPrefix() {}

  /**
   * @param tokens how many leading tokens form the prefix (all of the prompt when it is shorter); 0 or less: none
   * @return the hash, never {@link #NONE} for a prompt with tokens
   */
  public static long hash(int[] tokenIds, int tokens) {
    if (tokens <= 0 || tokenIds == null || tokenIds.length == 0) {
      return NONE;
    }
    int n = Math.min(tokens, tokenIds.length);
    long h = 1125899906842597L;
    for (int i = 0; i < n; i++) {
      h = 31 * h + tokenIds[i];
    }
    // Mixed (MurmurHash3's finalizer) so that a server index, the hash modulo a handful of servers, is uniform.
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    return h == NONE ? h + 1 : h;
  }
}
