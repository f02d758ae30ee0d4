package dev.jgen.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.current_timestamp;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.struct;

import dev.jgen.delta.OutputSchema;
import dev.jgen.delta.RunTable;
import dev.jgen.prompt.PromptSpec;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;

/**
 * {@code job.reuse}: before a generate attempt generates, the (row, sample) pairs whose effective request an earlier
 * run of the same table already answered ok are copied into this run, in one idempotent commit, and left out of the
 * generation. A request is identical when every part that can change the engine's output is: the model fingerprint,
 * the engine kind, the rendered prompt (so the template, system prompt and attribute values), every sampling parameter
 * (max_new_tokens, temperature, top_p, top_k, repetition_penalty, the row's derived seed, stop), the output
 * constraint's SHA-256, the LoRA adapter's fingerprint and scale, and the sample index. Each part is a column the generating run wrote, compared null-safely, so
 * a request that differs in any one of them is generated anew (Curator's cross-run cache ignored the parameters and
 * served stale answers: curator #135).
 *
 * <p>The pending side is rendered by the same code the generation runs ({@link RenderedRequests}), never
 * reconstructed. A copied row keeps its source's text, tokens, finish reason,
 * timings and engine instance, and says where it came from in {@code reused_from}; its run, attempt, id, row key and
 * input row are this run's.
 */
final class RequestReuse {
  private RequestReuse() {}

  /** Nothing copied. */
  static final Reused NONE = new Reused(null, 0);

  /** The copied rows (persisted; the caller unpersists; null when none were looked for) and how many. */
  record Reused(Dataset<Row> rows, long count) {
    /** The copied pairs, as the run's keys, to leave out of the generation. */
    Dataset<Row> keys() {
      return rows.select(col("row_key").as("_reused_key"), col("sample_index").as("_reused_sample"));
    }
  }

  /**
   * Finds the pending pairs an earlier run answered and commits their copies as this attempt's reuse chunk.
   *
   * @param rendered the attempt's pending pairs as requests ({@link RenderedRequests}), rendered only when asked for
   * @param engineKind the engine kind the run's rows record ({@code engine.kind})
   */
  static Reused copyFromEarlierRuns(SparkSession spark, RunTable table, java.util.function.Supplier<Dataset<Row>> rendered,
      JobPlan plan, Broadcast<PromptSpec> prompts, String engineKind, java.util.function.Consumer<Dataset<Row>> commit) {
    Dataset<Row> sources = table.all().where(col("status").equalTo("ok")
        .and(col("run_id").notEqual(lit(plan.runId())))
        .and(col("model_fingerprint").equalTo(lit(plan.modelFingerprint())))
        .and(col("engine").equalTo(lit(engineKind)))
        .and(col("duplicate_of").isNull())
        .and(col("prompt").isNotNull()));
    // Most runs have nothing to reuse: a table this job just made holds nothing (no query: a second of a small run's
    // start), and for another model or engine one small job says so before anything is rendered.
    if (table.createdNow() || sources.limit(1).isEmpty()) {
      return NONE;
    }
    Dataset<Row> requests = rendered.get();
    Column same = col("prompt").equalTo(col("_r_prompt"))
        .and(col("sample_index").equalTo(col("_r_sample")))
        .and(col("params").eqNullSafe(col("_r_params")))
        .and(col("constraint_sha256").eqNullSafe(col("_r_constraint")))
        .and(col("adapter_sha256").eqNullSafe(col("_r_adapter_sha256")))
        .and(col("adapter_scale").eqNullSafe(col("_r_adapter_scale")));
    // One source per pair, the earliest generation (then by run and attempt, so a rerun picks the same one).
    var first = Window.partitionBy("_r_key", "_r_sample").orderBy(col("created_at"), col("run_id"), col("attempt"));
    Dataset<Row> matched = requests.join(sources, same).withColumn("_pick", row_number().over(first))
        .where(col("_pick").equalTo(1));
    List<Column> out = new ArrayList<>();
    for (String name : OutputSchema.SCHEMA.fieldNames()) {
      Column c = switch (name) {
        case "run_id" -> lit(plan.runId());
        case "id" -> col("_r_id");
        case "sample_index" -> col("_r_sample");
        case "row_key" -> col("_r_key");
        case "input_row" -> col("_r_input_row");
        case "attempt" -> lit(plan.attempt());
        case "model_id" -> lit(plan.modelId());
        case "template_sha256" -> lit(prompts.value().templateSha256());
        case "created_at" -> current_timestamp();
        case "reused_from" -> struct(col("run_id").as("run_id"), col("attempt").as("attempt"));
        default -> col(name);
      };
      out.add(c.as(name));
    }
    Dataset<Row> copies = matched.select(out.toArray(Column[]::new))
        .persist(org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK());
    long count = copies.count();
    if (count > 0) {
      commit.accept(spark.createDataFrame(copies.javaRDD(), OutputSchema.SCHEMA));
    }
    return new Reused(copies, count);
  }
}
