package dev.jgen.engine.serving;

import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineProvider;
import dev.jgen.engine.EngineSpec;

/**
 * {@code engine.kind=trtllm-serve}: TensorRT-LLM's OpenAI-compatible server on {@code /v1/completions}, used (endpoint
 * mode) or started and owned per GPU group (launch mode). Options: the {@code engine.trtllm.*} keys without the prefix
 * ({@link TrtllmServeSpecs} builds them from the job config and the catalog's GPU preset), plus the internal ones
 * {@link DjlServingEngineProvider} lists.
 */
public final class TrtllmServeEngineProvider implements EngineProvider {
  @Override
  public String kind() {
    return ServerKind.TRTLLM.kind();
  }

  @Override
  public Engine open(EngineSpec spec) {
    return new ServingEngine(spec, ServerKind.TRTLLM);
  }
}
