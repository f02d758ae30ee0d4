package dev.jgen.engine.llamacpp;

import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineProvider;
import dev.jgen.engine.EngineSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;

/** {@code engine.kind=llamacpp}: options {@code threads} (0 = all cores but one), {@code parallel}, {@code ctx_size} per sequence. */
public final class LlamaCppEngineProvider implements EngineProvider {
  @Override
  public String kind() {
    return "llamacpp";
  }

  @Override
  public Engine open(EngineSpec spec) {
    privateNativeDir();
    int threads = spec.intOption("threads", 0);
    if (threads <= 0) {
      // ggml's worker threads spin while they wait: one core stays free for Spark's own threads, or every decode step
      // stalls behind them (on this 2-core machine, under load, the demo generated 11 tok/s with 2 threads, 92 with 1).
      threads = Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
    }
    return new LlamaCppEngine(spec.model(), threads, spec.intOption("parallel", 2), spec.intOption("ctx_size", 2048));
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
