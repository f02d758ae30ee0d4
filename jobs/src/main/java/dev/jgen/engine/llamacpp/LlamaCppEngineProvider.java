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
    // engine.ctx_size left to jgen: the native server's shared KV cache may grow to hold every sequence's row (its
    // max_new_tokens and a prompt of up to 256 tokens, at most the context), not only one context's worth.
    if (config.integer(ConfigKeys.ENGINE_CTX_SIZE) <= 0) {
      opts.put("row_tokens", String.valueOf(Math.min(ctx, generation.maxNewTokens() + 256)));
    }
    // Only when off: equal specs share one loaded engine per JVM, and a spec written before the key existed (or by a
    // caller that does not know it) must still name the same engine as the default.
    if (!config.bool(ConfigKeys.ENGINE_PREFIX_CACHE)) {
      opts.put("prefix_cache", "false");
    }
    // model.adapters (issue 31): the native server loads every GGUF adapter once; rows name theirs per request.
    if (!generation.adapters().isEmpty()) {
      java.util.List<String> paths = new java.util.ArrayList<>();
      for (dev.jgen.engine.LoraAdapter a : generation.adapters().values()) {
        if (a.path().contains(",")) {
          throw new ConfigException(ConfigKeys.MODEL_ADAPTERS + "." + a.name() + ": the native engine's adapter paths may not hold a comma: "
              + a.path());
        }
        if (!isGguf(java.nio.file.Path.of(a.path()))) {
          throw new ConfigException(ConfigKeys.MODEL_ADAPTERS + "." + a.name() + ": engine.kind=llamacpp reads LoRA adapters as one "
              + "GGUF file (llama.cpp's convert_lora_to_gguf.py makes one from a PEFT directory), got " + a.path());
        }
        paths.add(a.path());
      }
      opts.put("lora_paths", String.join(",", paths));
    }
    return new EngineSpec(kind(), model.gguf().toString(), opts);
  }

  /** Whether the file starts with GGUF's magic. */
  private static boolean isGguf(java.nio.file.Path p) {
    if (!Files.isRegularFile(p)) {
      return false;
    }
    try (java.io.InputStream in = Files.newInputStream(p)) {
      return java.util.Arrays.equals(in.readNBytes(4), "GGUF".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    } catch (IOException e) {
      return false;
    }
  }

  /** The native server applies a GGUF LoRA adapter per request (the embedded jar's fallback does not: see open). */
  @Override
  public boolean carriesAdapters() {
    return true;
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
    if (!spec.option("lora_paths", "").isBlank()) {
      throw new dev.jgen.engine.EngineException("model.adapters: per-row LoRA adapters need the native llama.cpp build on "
          + "this machine (run bin/build-native); the embedded java-llama.cpp fallback applies none");
    }
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
