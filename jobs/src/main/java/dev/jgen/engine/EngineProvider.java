package dev.jgen.engine;

/** Opens one kind of engine. Found through {@link java.util.ServiceLoader}, so adding an engine touches no job code. */
public interface EngineProvider {
  String kind();

  Engine open(EngineSpec spec);
}
