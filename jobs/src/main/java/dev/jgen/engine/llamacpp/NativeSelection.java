package dev.jgen.engine.llamacpp;

import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.llamanative.NativeBuild;
import dev.jgen.engine.llamanative.NativeLlamaEngineProvider;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Which llama.cpp runs {@code engine.kind=llamacpp}: {@code native} (the build bin/build-native made for this CPU),
 * {@code jar} (java-llama.cpp's portable AVX2 build) or {@code auto} (native when built, else the jar with one warning).
 * Chosen by the spec option {@code impl}, else {@code -Djgen.llama.impl} / {@code JGEN_LLAMA_IMPL}; default auto.
 */
public final class NativeSelection {
  private static final AtomicBoolean WARNED = new AtomicBoolean();

  private NativeSelection() {}

  public static String impl(EngineSpec spec) {
    String v = spec.option("impl", System.getProperty("jgen.llama.impl", System.getenv("JGEN_LLAMA_IMPL")));
    v = v == null || v.isBlank() ? "auto" : v.trim();
    if (!v.equals("auto") && !v.equals("native") && !v.equals("jar")) {
      throw new EngineException("llama.cpp implementation '" + v + "': expected auto, native or jar");
    }
    return v;
  }

  /** The native engine, or null when the jar is to run this spec. */
  static Engine openNative(EngineSpec spec) {
    String impl = impl(spec);
    if (impl.equals("jar")) {
      return null;
    }
    boolean built = !spec.option("native_server", "").isBlank() || NativeBuild.server().isPresent();
    if (!built) {
      if (impl.equals("native")) {
        throw new EngineException("no native llama.cpp build for this machine: run bin/build-native");
      }
      warnOnce("no native llama.cpp build for this CPU (bin/build-native makes one; it needs cmake and g++)");
      return null;
    }
    try {
      return new NativeLlamaEngineProvider().open(spec);
    } catch (EngineException e) {
      if (impl.equals("native")) {
        throw e;
      }
      warnOnce("the native llama.cpp build did not start: " + e.getMessage());
      return null;
    }
  }

  private static void warnOnce(String why) {
    if (WARNED.compareAndSet(false, true)) {
      System.err.println("jgen: WARNING " + why + "; using the embedded portable llama.cpp (java-llama.cpp), which is slower");
    }
  }
}
