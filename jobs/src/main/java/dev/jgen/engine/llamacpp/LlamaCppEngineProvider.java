package dev.jgen.engine.llamacpp;

import dev.jgen.catalog.ResolvedModel;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.GenerationSettings;
import dev.jgen.config.JobConfig;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.job.JobEngineProvider;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.structured.OutputConstraint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code engine.kind=llamacpp}: the natively built llama.cpp when this machine has a build ({@code bin/build-native}),
 * else the embedded java-llama.cpp jar with a one-line warning ({@link NativeSelection}). Options {@code threads},
 * {@code parallel} (0 = chosen from the cores and the model), {@code ctx_size}.
 */
public final class LlamaCppEngineProvider implements JobEngineProvider {
  @Override
  public String kind() {
    return "llamacpp";
  }

  @Override
  public boolean needsGguf() {
    return true;
  }

  @Override
  public void checkModel(ResolvedModel model, PromptSpec prompts) {
    if (prompts.tokenizerJson() == null) {
      throw new ConfigException("model " + model.modelId() + ": no tokenizer.json beside the weights; the engine is fed the "
          + "Hugging Face tokenizer's ids, so copy the model's tokenizer.json next to its GGUF");
    }
  }

  @Override
  public EngineSpec spec(JobConfig config, ResolvedModel model, PromptSpec prompts, GenerationSettings generation, int ctx) {
    Map<String, String> opts = new TreeMap<>();
    opts.put("threads", String.valueOf(config.integer(ConfigKeys.ENGINE_THREADS)));
    opts.put("parallel", String.valueOf(config.integer(ConfigKeys.ENGINE_PARALLEL)));
    opts.put("ctx_size", String.valueOf(ctx));
    // Only when off: equal specs share one loaded engine per JVM, and a spec written before the key existed (or by a
    // caller that does not know it) must still name the same engine as the default.
    if (!config.bool(ConfigKeys.ENGINE_PREFIX_CACHE)) {
      opts.put("prefix_cache", "false");
    }
    return new EngineSpec(kind(), model.gguf().toString(), opts);
  }

  /** llama.cpp applies every kind: GBNF grammars natively, JSON Schema and choice converted to grammars. */
  @Override
  public boolean carries(OutputConstraint.Kind kind) {
    return true;
  }

  @Override
  public Engine open(EngineSpec spec) {
    // --- nativecpu: prefer the native build (the embedded jar below is the fallback) ---
    Engine nativeEngine = NativeSelection.openNative(spec);
    if (nativeEngine != null) {
      return nativeEngine;
    }
    // --- end nativecpu ---
    privateNativeDir();
    int threads = spec.intOption("threads", 0);
    if (threads <= 0) {
      // ggml's worker threads spin while they wait: one core stays free for Spark's own threads, or every decode step
      // stalls behind them (on this 2-core machine, under load, the demo generated 11 tok/s with 2 threads, 92 with 1).
      threads = Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
    }
    int parallel = spec.intOption("parallel", 0);
    if (parallel <= 0) {
      parallel = 2; // nativecpu: engine.parallel=0 means "choose"; the portable build barely gains from more slots
    }
    return new LlamaCppEngine(spec.model(), threads, parallel, spec.intOption("ctx_size", 2048));
  }

  /**
   * java-llama.cpp deletes every file named llama* or jllama* in its temp folder when its class loads, and then
   * extracts its library there under a fixed name: two JVMs sharing /tmp break each other. Give this JVM its own.
   */
  static synchronized void privateNativeDir() {
    if (System.getProperty("de.kherud.llama.tmpdir") == null && System.getProperty("de.kherud.llama.lib.path") == null) {
      try {
        var dir = Files.createTempDirectory("jgen-jllama-");
        dir.toFile().deleteOnExit();
        System.setProperty("de.kherud.llama.tmpdir", dir.toString());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
