package dev.jgen.spark;

import dev.jgen.config.GenerationSettings;
import dev.jgen.engine.EngineSpec;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.generate.RunHealth;
import java.io.Serializable;

/**
 * What every task of a run needs, fixed on the driver before the first task starts.
 *
 * @param health when run errors stop the run ({@code job.max_failure_rate} of {@code job.failure_window})
 * @param chunkDeadlineMillis wall-clock time after which a chunk's tasks start no new row (0: none)
 * @param engine null for a dry run ({@code engine.kind=none}): prompts are rendered and tokenized, nothing generated
 */
record JobPlan(
    String runId,
    int attempt,
    String modelId,
    String modelFingerprint,
    EngineSpec engine,
    GenerationSettings generation,
    InputColumns columns,
    RunHealth.Limits health,
    long chunkDeadlineMillis) implements Serializable {

  /** The same plan for a chunk whose tasks start no new row after {@code deadlineMillis} (0: no deadline). */
  JobPlan withDeadline(long deadlineMillis) {
    return new JobPlan(runId, attempt, modelId, modelFingerprint, engine, generation, columns, health, deadlineMillis);
  }
}
