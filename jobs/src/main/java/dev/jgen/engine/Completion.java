package dev.jgen.engine;

/**
 * What an engine generated for one request.
 *
 * @param finishReason {@code stop} (end of sequence or a stop string), {@code length} (max_new_tokens reached), or the
 *     engine's own word when it gives one
 * @param latencyMs from the engine accepting the request to the last token
 */
public record Completion(String text, int promptTokens, int completionTokens, String finishReason, long latencyMs) {}
