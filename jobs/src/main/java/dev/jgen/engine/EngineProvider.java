package dev.jgen.engine;

/**
 * Opens one kind of engine. Found through {@link java.util.ServiceLoader}, so adding an engine touches no job code: a
 * provider that {@code engine.kind} can name also implements {@code dev.jgen.engine.job.JobEngineProvider}, which plans
 * the engine for a job on the driver (spec, constraints it carries, capacity, GPU stage). This package knows nothing
 * of jobs: it depends on no jgen package but {@code structured} (the constraint a request carries).
 */
public interface EngineProvider {
  String kind();

  Engine open(EngineSpec spec);
}
