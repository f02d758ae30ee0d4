package dev.jgen.spark;

import dev.jgen.config.GenerationSettings;
import dev.jgen.engine.EngineSpec;
import dev.jgen.prompt.PromptSpec;
import java.io.Serializable;

/**
 * What every task of a run needs, fixed on the driver before the first task starts.
 *
 * @param engine null for a dry run ({@code engine.kind=none}): prompts are rendered and tokenized, nothing generated
 */
record JobPlan(
    String runId,
    int attempt,
    String modelId,
    String modelFingerprint,
    EngineSpec engine,
    GenerationSettings generation,
    InputColumns columns) implements Serializable {}
