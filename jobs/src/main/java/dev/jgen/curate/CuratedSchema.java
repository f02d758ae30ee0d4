package dev.jgen.curate;

import dev.jgen.delta.RunTable;
import dev.jgen.delta.TableKind;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The curated table of {@code job.kind=curate}: one row per candidate (the latest attempt of each (source run, row,
 * sample) of the generations table), kept or not, with the reason. Rows never vanish: a dropped candidate stays with
 * its {@code drop_reason}.
 */
public final class CuratedSchema {
  public static final StructType MESSAGE = new StructType()
      .add("role", DataTypes.StringType)
      .add("content", DataTypes.StringType);

  public static final StructType SCHEMA = new StructType()
      .add("run_id", DataTypes.StringType, false)          // the curate run
      .add("source_run_id", DataTypes.StringType, false)   // the generations run
      .add("id", DataTypes.StringType)
      .add("row_key", DataTypes.StringType, false)
      .add("sample_index", DataTypes.IntegerType, false)
      .add("source_attempt", DataTypes.IntegerType)
      .add("status", DataTypes.StringType)                 // the candidate's status in the generations table
      .add("kept", DataTypes.BooleanType, false)
      // null when kept; else error | below_min_score | not_best_of_n | exact_duplicate | near_duplicate
      .add("drop_reason", DataTypes.StringType)
      .add("duplicate_of", DataTypes.StringType)           // the id kept in its place (exact_duplicate, near_duplicate)
      .add("similarity", DataTypes.DoubleType)             // Jaccard similarity to duplicate_of (1 for an exact duplicate)
      .add("score", DataTypes.DoubleType)                  // from curate.scores; null without
      .add("instruction", DataTypes.StringType)            // the last user message
      .add("messages", DataTypes.createArrayType(MESSAGE)) // the conversation up to the answer
      .add("output_text", DataTypes.StringType)
      .add("finish_reason", DataTypes.StringType)
      .add("model_id", DataTypes.StringType)
      .add("model_fingerprint", DataTypes.StringType)
      .add("template_sha256", DataTypes.StringType)
      .add("created_at", DataTypes.TimestampType);

  public static final RunTable.Spec SPEC = new RunTable.Spec(TableKind.CURATE, SCHEMA, "sample_index", Map.of(), List.of());

  /** The drop reasons, in the order the stages apply them (a candidate gets the first that applies). */
  public static final List<String> REASONS = List.of("error", "below_min_score", "not_best_of_n", "exact_duplicate",
      "near_duplicate");

  private CuratedSchema() {}
}
