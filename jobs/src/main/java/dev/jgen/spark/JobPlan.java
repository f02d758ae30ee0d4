package dev.jgen.spark;

import dev.jgen.config.GenerationSettings;
import dev.jgen.engine.EngineSpec;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.generate.RunHealth;
import java.io.Serializable;
import org.apache.spark.sql.Row;

/**
 * What every task of a run needs, fixed on the driver before the first task starts.
 *
 * @param samples generation.n: samples per input row
 * @param reseed a --retry-errors attempt: rows get new seeds
 * @param health when run errors stop the run ({@code job.max_failure_rate} of {@code job.failure_window})
 * @param longestFirst job.longest_first: tasks start the rows with the largest max_new_tokens first, over a read-ahead
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
    int samples,
    boolean reseed,
    boolean longestFirst) implements Serializable {

  /**
   * The key a row's seed is derived from: its id, or, in a --retry-errors attempt, its id and the attempt, so that a
   * row that failed (a truncated or invalid output) is sampled anew rather than repeated; the seed is stored either way.
   */
  String seedKey(String id) {
    return reseed ? id + "#retry" + attempt : id;
  }

  /**
   * A (row, sample)'s position in the attempt: chunks are cut, spread over tasks and resumed by it. Input order, or
   * prefix groups one after another when the rows were grouped ({@link PrefixGroups}).
   */
  long position(Row r) {
    long order = columns.order(r);
    return order >= 0 ? order : columns.inputRow(r) * samples + columns.sample(r);
  }

  /** The same plan over pairs with another schema (a column added). */
  JobPlan withColumns(InputColumns other) {
    return new JobPlan(runId, attempt, modelId, modelFingerprint, engine, generation, other, health, samples, reseed, longestFirst);
  }
}
