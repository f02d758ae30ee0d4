package dev.jgen.engine;

/**
 * What an engine generated for one request.
 *
 * @param finishReason {@code stop} (end of sequence or a stop string), {@code length} (max_new_tokens reached), or the
 *     engine's own word when it gives one
 * @param latencyMs from the engine accepting the request to the last token
 * @param cachedTokens prompt tokens the engine took from its prefix cache instead of computing them, as the engine
 *     itself counts them (the native server's copied KV cells; OpenAI's {@code usage.prompt_tokens_details.cached_tokens}
 *     where the server reports it); null where the engine does not say
 */
public record Completion(String text, int promptTokens, int completionTokens, String finishReason, long latencyMs,
    Integer cachedTokens) {
  /** An engine that does not report cached tokens. */
  public Completion(String text, int promptTokens, int completionTokens, String finishReason, long latencyMs) {
    this(text, promptTokens, completionTokens, finishReason, latencyMs, null);
  }
}
