package dev.jgen.engine;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * Everything an executor needs to open an engine, decided on the driver. Equal specs share one loaded engine per JVM.
 *
 * @param kind the provider's name ({@code llamacpp}, ...)
 * @param model what the engine loads (a GGUF path for llama.cpp)
 * @param options engine-specific settings (threads, parallel, ctx_size, ...), all strings
 */
public record EngineSpec(String kind, String model, Map<String, String> options) implements Serializable {
  public EngineSpec {
    options = options == null ? Map.of() : new TreeMap<>(options);
  }

  public int intOption(String key, int dflt) {
    String v = options.get(key);
    return v == null || v.isBlank() ? dflt : Integer.parseInt(v.trim());
  }

  public String option(String key, String dflt) {
    return options.getOrDefault(key, dflt);
  }
}
