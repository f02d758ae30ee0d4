package dev.jgen.engine.echo;

import dev.jgen.catalog.ResolvedModel;
import dev.jgen.config.GenerationSettings;
import dev.jgen.config.JobConfig;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.job.JobEngineProvider;
import dev.jgen.prompt.PromptSpec;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * {@code engine.kind=echo}: a zero-cost engine that answers every request at once with one fixed token. It measures
 * what the pipeline around the model costs (read, render, tokenize, write): {@code jgen bench --scenario pipeline}.
 */
public final class EchoEngineProvider implements JobEngineProvider {
  @Override
  public String kind() {
    return "echo";
  }

  @Override
  public EngineSpec spec(JobConfig config, ResolvedModel model, PromptSpec prompts, GenerationSettings generation, int ctx) {
    return new EngineSpec(kind(), model.modelId(), Map.of());
  }

  /** Rows cost microseconds, commits seconds: chunks as large as a dry run's. */
  @Override
  public int capacity(EngineSpec spec) {
    return 8192;
  }

  @Override
  public Engine open(EngineSpec spec) {
    EngineInfo info = new EngineInfo("echo", "echo 1", UUID.randomUUID().toString(), 0);
    return new Engine() {
      @Override
      public EngineInfo info() {
        return info;
      }

      @Override
      public CompletableFuture<Completion> submit(CompletionRequest request) {
        int prompt = request.promptTokenIds() == null ? 0 : request.promptTokenIds().length;
        return CompletableFuture.completedFuture(new Completion("。", prompt, 1, "length", 0));
      }

      @Override
      public int capacity() {
        return 64;
      }

      @Override
      public void close() {
        // nothing held
      }
    };
  }
}
