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
   * The prefix of a request generated with a LoRA adapter (issue 31): the adapter's KV cells differ from the base
   * model's, so a prefix is only shared within one adapter, and keeping an adapter's rows together (one server, one
   * chunk) keeps each server's adapter set small.
   *
   * @param adapter the adapter's fingerprint (or name), or null for the base model: then {@link #hash(int[], int)}
   */
  public static long hash(int[] tokenIds, int tokens, String adapter) {
    long h = hash(tokenIds, tokens);
    if (h == NONE || adapter == null) {
      return h;
    }
    long a = h;
    for (int i = 0; i < adapter.length(); i++) {
      a = 31 * a + adapter.charAt(i);
    }
    a ^= a >>> 33;
    a *= 0xc4ceb9fe1a85ec53L;
    a ^= a >>> 33;
    return a == NONE ? a + 1 : a;
  }

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
