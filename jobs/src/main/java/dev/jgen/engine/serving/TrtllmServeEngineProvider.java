package dev.jgen.engine.serving;

import dev.jgen.catalog.ResolvedModel;
import dev.jgen.config.ConfigException;
import dev.jgen.config.GenerationSettings;
import dev.jgen.config.JobConfig;
import dev.jgen.engine.EngineSpec;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.structured.OutputConstraint;
import dev.jgen.structured.ServerEncodings;

/**
 * {@code engine.kind=trtllm-serve}: TensorRT-LLM's OpenAI-compatible server on {@code /v1/completions}, used (endpoint
 * mode) or started and owned per GPU group (launch mode). Options: the {@code engine.trtllm.*} keys without the prefix
 * ({@link TrtllmServeSpecs} builds them from the job config and the catalog's GPU preset), plus the internal ones
 * {@link DjlServingEngineProvider} lists.
 */
public final class TrtllmServeEngineProvider extends ServingEngineProvider {
  public TrtllmServeEngineProvider() {
    super(ServerKind.TRTLLM);
  }

  @Override
  public EngineSpec spec(JobConfig config, ResolvedModel model, PromptSpec prompts, GenerationSettings generation, int ctx) {
    EngineSpec spec = TrtllmServeSpecs.spec(config, model, prompts.specialTokens().get("bos_token"), generation.maxNewTokens(), ctx);
    java.util.Map<String, String> opts = new java.util.LinkedHashMap<>(spec.options());
    putAdapters(opts, generation);
    return new EngineSpec(spec.kind(), spec.model(), opts);
  }

  /** trtllm-serve's OpenAI API must encode the constraint ({@link ServerEncodings}). */
  @Override
  public void checkConstraint(JobConfig config, OutputConstraint constraint) {
    String why = ServerEncodings.unsupportedReason(ServerEncodings.TRTLLM_SERVE, constraint);
    if (why != null) {
      throw new ConfigException(why);
    }
  }
}
