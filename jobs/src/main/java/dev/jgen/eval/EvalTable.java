package dev.jgen.eval;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;

import dev.jgen.delta.DeltaPaths;
import io.delta.tables.DeltaTable;
import java.io.File;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.StructType;

/**
 * A Delta table of one of the evaluation modes (MT-Bench answers, self-chat dialogues): created partitioned by run with
 * change data feed on, written by idempotent appends, read back as the latest attempt of each (row_key, sample).
 */
final class EvalTable {
  private final SparkSession spark;
  private final String path;
  private final String sampleColumn;

  private EvalTable(SparkSession spark, String path, String sampleColumn) {
    this.spark = spark;
    this.path = path;
    this.sampleColumn = sampleColumn;
  }

  /** Opens the table, creating it if the path is empty; refuses a path holding anything else (another jgen table too). */
  static EvalTable openOrCreate(SparkSession spark, String path, StructType schema, String what, String sampleColumn) {
    if (DeltaTable.isDeltaTable(spark, path)) {
      String problem = DeltaPaths.mismatch(spark.read().format("delta").load(path).schema(), schema);
      if (problem != null) {
        throw new IllegalStateException("output.path " + path + " is a Delta table but not a jgen " + what + " table ("
            + problem + "); choose another output.path");
      }
      return new EvalTable(spark, path, sampleColumn);
    }
    File local = DeltaPaths.localFile(path);
    if (local != null && local.exists() && (!local.isDirectory() || local.list().length > 0)) {
      throw new IllegalStateException("output.path " + path + " exists and is not a Delta table; choose another output.path");
    }
    DeltaTable.createIfNotExists(spark)
        .location(local != null ? local.getAbsolutePath() : path)
        .addColumns(schema)
        .partitionedBy("run_id")
        .property("delta.enableChangeDataFeed", "true")
        .execute();
    return new EvalTable(spark, path, sampleColumn);
  }

  /** Opens an existing table of this kind for reading. */
  static EvalTable open(SparkSession spark, String path, StructType schema, String what, String sampleColumn) {
    if (!DeltaTable.isDeltaTable(spark, path)) {
      throw new IllegalArgumentException(path + ": not a Delta table");
    }
    String problem = DeltaPaths.mismatch(spark.read().format("delta").load(path).schema(), schema);
    if (problem != null) {
      throw new IllegalArgumentException(path + ": not a jgen " + what + " table (" + problem + ")");
    }
    return new EvalTable(spark, path, sampleColumn);
  }

  String path() {
    return path;
  }

  Dataset<Row> all() {
    return spark.read().format("delta").load(path);
  }

  Dataset<Row> run(String runId) {
    return all().where(col("run_id").equalTo(lit(runId)));
  }

  /** Each (row_key, sample) of the run once: its latest attempt. */
  Dataset<Row> latest(String runId) {
    var w = Window.partitionBy("row_key", sampleColumn).orderBy(col("attempt").desc(), col("created_at").desc());
    return run(runId).withColumn("_rank", functions.row_number().over(w)).where(col("_rank").equalTo(1)).drop("_rank");
  }

  int lastAttempt(String runId) {
    Row r = run(runId).agg(max("attempt")).first();
    return r.isNullAt(0) ? 0 : r.getInt(0);
  }

  List<String> runIds() {
    return all().select("run_id").distinct().orderBy("run_id").collectAsList().stream().map(r -> r.getString(0)).toList();
  }

  void append(Dataset<Row> rows, String appId, long version, String userMetadata) {
    dev.jgen.delta.GenerationsTable.append(rows, path, appId, version, userMetadata);
  }

  /** Starts the table state's replay the next chunk's append waits for ({@link dev.jgen.delta.GenerationsTable#prepareAppends()}). */
  void prepareAppends() {
    dev.jgen.delta.GenerationsTable.prepareAppends(spark, path);
  }

  void deleteRun(String runId) {
    DeltaTable.forPath(spark, path).delete(col("run_id").equalTo(lit(runId)));
  }
}
