package dev.jgen.engine;

/**
 * One generation to run. Both forms of the prompt travel: the embedded engine takes the token ids (so tokenization is
 * the Hugging Face tokenizer's, not the engine's), a serving engine that tokenizes on its side takes the text.
 *
 * @param promptTokenIds null when the model has no tokenizer.json (only a serving engine can run such a request)
 * @param constraint what the output must look like (structured output, issue 13), or null
 * @param adapter the LoRA adapter to generate with (issue 31), or null for the base model
 */
public record CompletionRequest(String requestId, String promptText, int[] promptTokenIds, SamplingParams params,
    dev.jgen.structured.OutputConstraint constraint, LoraAdapter adapter) {

  /** A request on the base model. */
  public CompletionRequest(String requestId, String promptText, int[] promptTokenIds, SamplingParams params,
      dev.jgen.structured.OutputConstraint constraint) {
    this(requestId, promptText, promptTokenIds, params, constraint, null);
  }

  /** An unconstrained request. */
  public CompletionRequest(String requestId, String promptText, int[] promptTokenIds, SamplingParams params) {
    this(requestId, promptText, promptTokenIds, params, null, null);
  }
}
