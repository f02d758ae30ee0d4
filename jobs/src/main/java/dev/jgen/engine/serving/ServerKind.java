package dev.jgen.engine.serving;

import dev.jgen.engine.EngineSpec;
import java.util.function.Function;

/**
 * What tells one kind of inference server from another for {@link ServingEngine}: its engine kind, its config keys'
 * prefix, its wire protocol, the option that sizes its batch (the default in-flight window), how it is launched and
 * where it publishes metrics. Both kinds share the router, the window, the retry policy and launch mode's process
 * ownership.
 *
 * @param forcedApi null when {@code api} is an option, else the only wire the server speaks
 */
record ServerKind(String kind, String serverName, String keyPrefix, String defaultApi, String forcedApi, String batchOption,
    int defaultBatch, Function<EngineSpec, LaunchRecipe> recipe, String metricsPath) {

  /** DJL Serving (LMI: TensorRT-LLM up to 0.33.0-tensorrtllm0.21.0, vLLM after). */
  static final ServerKind DJL = new ServerKind("djl-serving", "DJL Serving", "engine.djl.", "invocations", null,
      "max_rolling_batch_size", 64, DjlServingRecipe::new, "/metrics");

  /** TensorRT-LLM's own OpenAI-compatible server. */
  static final ServerKind TRTLLM = new ServerKind("trtllm-serve", "trtllm-serve", "engine.trtllm.", "openai", "openai",
      "max_batch_size", 64, TrtllmServeRecipe::new, "/metrics");
}
