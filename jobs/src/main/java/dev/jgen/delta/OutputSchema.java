package dev.jgen.delta;

import dev.jgen.prompt.SteerLmAttributes;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The generations table: one row per (run, input row, sample, attempt), with its status and everything needed to
 * know how it was made. Append-only: a retried row gets a new attempt, and earlier attempts stay as history.
 */
public final class OutputSchema {
  public static final StructType PARAMS = new StructType()
      .add("max_new_tokens", DataTypes.IntegerType)
      .add("temperature", DataTypes.DoubleType)
      .add("top_p", DataTypes.DoubleType)
      .add("top_k", DataTypes.IntegerType)
      .add("repetition_penalty", DataTypes.DoubleType)
      .add("seed", DataTypes.LongType)
      .add("stop", DataTypes.createArrayType(DataTypes.StringType));

  public static final StructType ATTRIBUTES;

  static {
    List<StructField> f = new ArrayList<>();
    for (String a : SteerLmAttributes.NAMES) {
      f.add(DataTypes.createStructField(a, DataTypes.IntegerType, true));
    }
    ATTRIBUTES = DataTypes.createStructType(f);
  }

  /** Column order of {@link #SCHEMA}; {@code OutputRow} writes values in this order. */
  public static final StructType SCHEMA = new StructType()
      .add("run_id", DataTypes.StringType, false)
      .add("id", DataTypes.StringType)
      .add("sample_index", DataTypes.IntegerType, false)
      // The resume key with sample_index: the id, or "<id>#row<N>" for a repeated id, "#row<N>" for a missing one.
      .add("row_key", DataTypes.StringType, false)
      .add("input_row", DataTypes.LongType, false)
      .add("attempt", DataTypes.IntegerType, false)
      .add("status", DataTypes.StringType, false)
      .add("error", DataTypes.StringType)
      // input.dedup: the id of the row with the same instruction; such a row is "skipped", not generated twice.
      .add("duplicate_of", DataTypes.StringType)
      .add("model_id", DataTypes.StringType)
      .add("model_fingerprint", DataTypes.StringType)
      .add("engine", DataTypes.StringType)
      .add("engine_version", DataTypes.StringType)
      .add("engine_instance", DataTypes.StringType)
      .add("template_sha256", DataTypes.StringType)
      .add("prompt", DataTypes.StringType)
      .add("prompt_tokens", DataTypes.IntegerType)
      // Dry runs (engine.kind=none) keep the token ids, as `jgen render` does; generating runs keep only the count.
      .add("prompt_token_ids", DataTypes.createArrayType(DataTypes.IntegerType))
      .add("output_text", DataTypes.StringType)
      .add("finish_reason", DataTypes.StringType)
      .add("completion_tokens", DataTypes.IntegerType)
      .add("seed", DataTypes.LongType)
      .add("params", PARAMS)
      .add("attributes", ATTRIBUTES)
      .add("warnings", DataTypes.createArrayType(DataTypes.StringType))
      .add("queue_ms", DataTypes.LongType)
      .add("latency_ms", DataTypes.LongType)
      .add("executor_id", DataTypes.StringType)
      .add("created_at", DataTypes.TimestampType, false)
      // Structured output (issue 13), last so that tables made before them gain them by ADD COLUMNS in the same order:
      // the output as compact JSON when a json_schema constraint validated it, and the row's constraint's SHA-256.
      .add("output_json", DataTypes.StringType)
      .add("constraint_sha256", DataTypes.StringType);

  /** Columns added after the first release: a table without them gains them when opened (null in older rows). */
  public static final java.util.List<String> ADDED_LATER = java.util.List.of("output_json", "constraint_sha256");

  /** The generations table of {@code job.kind=generate}. */
  public static final RunTable.Spec SPEC = new RunTable.Spec(TableKind.GENERATE, SCHEMA, "sample_index",
      java.util.Map.of("delta.enableChangeDataFeed", "true", "delta.appendOnly", "false"), ADDED_LATER);

  private OutputSchema() {}
}
