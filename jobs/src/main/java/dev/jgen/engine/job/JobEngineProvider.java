package dev.jgen.engine.job;

import dev.jgen.catalog.ResolvedModel;
import dev.jgen.config.GenerationSettings;
import dev.jgen.config.JobConfig;
import dev.jgen.engine.EngineProvider;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.structured.OutputConstraint;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A kind of engine as a job sees it on the driver ({@code engine.kind}): what the job code (spark/GenerateJob,
 * GpuStage, EngineCapacity) needs to know of a kind is asked here, never switched on, so adding an engine touches no
 * job code. The core {@link EngineProvider} opens engines on executors and knows nothing of jobs; this one plans them
 * from the job's config, model and prompts. Registered as an {@link EngineProvider} service, like every provider.
 *
 * <p>Config errors are {@code ConfigException}s naming the key, raised before Spark starts.
 */
public interface JobEngineProvider extends EngineProvider {

  /** Whether the model must resolve to GGUF weights (a download or conversion on the driver). */
  default boolean needsGguf() {
    return false;
  }

  /** Checks that the model's files fit this engine; called before the job's other settings are checked. */
  default void checkModel(ResolvedModel model, PromptSpec prompts) {
  }

  /**
   * The engine's spec for this job, decided on the driver.
   *
   * @param ctx the context size in tokens ({@code engine.ctx_size}, or the model's, at most 4096)
   */
  EngineSpec spec(JobConfig config, ResolvedModel model, PromptSpec prompts, GenerationSettings generation, int ctx);

  /** Whether this engine applies a LoRA adapter per request (model.adapters, issue 31). Default: no. */
  default boolean carriesAdapters() {
    return false;
  }

  /** Whether this engine applies output constraints of this kind. Default: JSON Schema and choice, no GBNF grammar. */
  default boolean carries(OutputConstraint.Kind kind) {
    return kind != OutputConstraint.Kind.GRAMMAR;
  }

  /** Checks that the configured engine (its server, its API) can carry this constraint, of a kind it carries. */
  default void checkConstraint(JobConfig config, OutputConstraint constraint) {
  }

  /**
   * How many requests one executor's engine takes at once, estimated from the spec before any engine exists (chunk
   * sizes derive from it). Default: option {@code parallel} (8 when unset), at least 1.
   */
  default int capacity(EngineSpec spec) {
    return Math.max(1, spec.intOption("parallel", 8));
  }

  /**
   * GPUs each of the engine's servers uses when its generation stage must ask Spark for GPUs (stage-level
   * scheduling); 0 (the default) when the stage asks for none.
   */
  default int gpusPerServer(EngineSpec spec) {
    return 0;
  }

  /** The job provider of {@code kind}, if one is on the class path. */
  static Optional<JobEngineProvider> find(String kind) {
    for (EngineProvider p : EngineRegistry.providers()) {
      if (p.kind().equals(kind) && p instanceof JobEngineProvider j) {
        return Optional.of(j);
      }
    }
    return Optional.empty();
  }

  /** The kinds whose engines carry constraints of this kind, in the order of the service files. */
  static List<String> kindsCarrying(OutputConstraint.Kind kind) {
    List<String> kinds = new ArrayList<>();
    for (EngineProvider p : EngineRegistry.providers()) {
      if (p instanceof JobEngineProvider j && j.carries(kind)) {
        kinds.add(j.kind());
      }
    }
    return kinds;
  }
}
