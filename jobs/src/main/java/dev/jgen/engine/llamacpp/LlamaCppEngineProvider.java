package dev.jgen.engine.llamacpp;

import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineProvider;
import dev.jgen.engine.EngineSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;

/**
 * {@code engine.kind=llamacpp}: the natively built llama.cpp when this machine has a build ({@code bin/build-native}),
 * else the embedded java-llama.cpp jar with a one-line warning ({@link NativeSelection}). Options {@code threads},
 * {@code parallel} (0 = chosen from the cores and the model), {@code ctx_size}.
 */
public final class LlamaCppEngineProvider implements EngineProvider {
  @Override
  public String kind() {
    return "llamacpp";
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
