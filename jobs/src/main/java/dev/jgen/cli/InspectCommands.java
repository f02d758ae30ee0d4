package dev.jgen.cli;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import dev.jgen.catalog.GpuPresets;
import dev.jgen.catalog.ModelCatalog;
import dev.jgen.catalog.ModelEntry;
import dev.jgen.delta.RunsTable;
import dev.jgen.spark.SparkSessions;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import io.delta.tables.DeltaTable;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/** {@code jgen runs}, {@code jgen show} and {@code jgen models --gpu}: read-only views. */
final class InspectCommands {
  private InspectCommands() {}

  /**
   * {@code jgen models --gpu h100-80gb [--context N] [--memory-fraction F]}: the GPU presets of every catalog model with
   * a shape: for each precision, the batch that fits at 1, 2, 4 and 8 GPUs per server ("-" where the weights alone do
   * not fit), and the suggested preset. See {@link GpuPresets} and docs/serving.md.
   */
  static int gpuPresets(ModelCatalog catalog, String gpuName, String context, String fraction, PrintStream out) {
    GpuPresets.Gpu gpu = GpuPresets.gpu(gpuName);
    double f;
    Integer ctx;
    try {
      f = fraction == null ? GpuPresets.DEFAULT_MEMORY_FRACTION : Double.parseDouble(fraction);
      ctx = context == null ? null : Integer.valueOf(context);
    } catch (NumberFormatException e) {
      throw new Args.UsageException("--context / --memory-fraction: expected a number");
    }
    if (f <= 0 || f > 1 || (ctx != null && ctx <= 0)) {
      throw new Args.UsageException("--memory-fraction must be in (0, 1] and --context > 0");
    }
    out.printf(Locale.ROOT, "GPU presets on %s (%.1f GiB, planning for %.0f%% of it; batch = sequences of the full context "
        + "that fit in the KV cache, at most %d)%n", gpu.name(), gpu.memoryBytes() / (double) (1L << 30), f * 100, GpuPresets.MAX_BATCH);
    out.printf("%-32s %-6s %7s %6s %6s %6s %6s   %s%n", "MODEL", "PREC", "CONTEXT", "TP1", "TP2", "TP4", "TP8", "SUGGESTED");
    for (ModelEntry e : catalog.entries()) {
      if (e.shape() == null || e.shape().isEmpty()) {
        continue;
      }
      int c = ctx != null ? ctx : GpuPresets.defaultContext(e);
      List<GpuPresets.Preset> all = GpuPresets.all(e, gpu, c, f);
      GpuPresets.Preset rec = GpuPresets.recommended(e, gpu, c, f);
      String suggested = rec == null ? "does not fit on 8 GPUs" : rec.precision() + " TP" + rec.tp() + " batch " + rec.batch();
      boolean first = true;
      for (String p : GpuPresets.precisions(gpu, e)) {
        StringBuilder row = new StringBuilder();
        for (GpuPresets.Preset x : all) {
          if (x.precision().equals(p)) {
            row.append(String.format("%6s ", x.fits() ? String.valueOf(x.batch()) : "-"));
          }
        }
        out.printf("%-32s %-6s %7d %s  %s%n", first ? e.id() : "", p, c, row, first ? suggested : "");
        first = false;
      }
    }
    return 0;
  }

  static int runs(String[] argv, PrintStream out) {
    Args a = Args.parse(argv, 1, Set.of("output", "runs-path"), Set.of());
    String output = required(a, "output");
    SparkSession spark = SparkSessions.forReading("jgen-runs");
    spark.sparkContext().setLogLevel("WARN");
    TableView table = TableView.open(spark, output);
    String runsPath = a.get("runs-path") != null ? a.get("runs-path") : RunsTable.besideOutput(output);
    // Counts from the data itself: the latest attempt of each (row, sample) of each run.
    List<Row> data = table.latest(table.all()).groupBy("run_id").agg(
            org.apache.spark.sql.functions.count(lit(1)),
            sum(when(col("status").equalTo("ok"), 1).otherwise(0)),
            sum(when(col("status").equalTo("error"), 1).otherwise(0)),
            org.apache.spark.sql.functions.max("attempt"),
            sum(coalesce(table.completionTokens(), lit(0))))
        .orderBy("run_id").collectAsList();
    out.println("Runs in " + output + " (" + table.kind() + "; latest attempt of each row and sample):");
    out.printf("%-22s %7s %7s %7s %8s %9s%n", "RUN", "ROWS", "OK", "ERROR", "ATTEMPTS", "TOKENS");
    for (Row r : data) {
      out.printf(Locale.ROOT, "%-22s %7d %7d %7d %8d %9d%n", r.getString(0), r.getLong(1), r.getLong(2), r.getLong(3), r.getInt(4),
          r.getLong(5));
    }
    var runs = RunsTable.openIfExists(spark, runsPath);
    if (runs.isPresent()) {
      out.println();
      out.printf("%-22s %3s %-9s %-19s %-19s %7s %7s %7s %9s %9s %8s %9s%n", "RUN", "#", "STATUS", "STARTED", "ENDED", "ROWS_IN",
          "OK", "ERROR", "TOKENS", "TOK/S", "LOAD_MS", "CACHED");
      var all = runs.get().all();
      // A runs table made before cached_tokens existed has no such column.
      boolean hasCached = java.util.Arrays.asList(all.columns()).contains("cached_tokens");
      for (Row r : all.orderBy("run_id", "attempt").collectAsList()) {
        Object cached = hasCached ? r.getAs("cached_tokens") : null;
        out.printf(Locale.ROOT, "%-22s %3d %-9s %-19s %-19s %7s %7s %7s %9s %9s %8s %9s%n", r.getAs("run_id"), (Integer) r.getAs("attempt"),
            r.getAs("status"), ts(r.getAs("started_at")), ts(r.getAs("ended_at")), r.getAs("rows_in"), r.getAs("ok"), r.getAs("error"),
            r.getAs("completion_tokens"), r.getAs("completion_tokens_per_second") == null ? null
                : String.format(Locale.ROOT, "%.1f", (Double) r.getAs("completion_tokens_per_second")),
            r.getAs("model_load_ms"), cached);
      }
    } else {
      out.println("(no runs table at " + runsPath + ")");
    }
    return 0;
  }

  static int show(String[] argv, PrintStream out) {
    Args a = Args.parse(argv, 1, Set.of("output", "run", "status", "limit", "format"), Set.of("all-attempts"));
    String output = required(a, "output");
    String format = a.options.getOrDefault("format", "table");
    if (!format.equals("table") && !format.equals("jsonl")) {
      throw new Args.UsageException("--format: one of table | jsonl");
    }
    int limit;
    try {
      limit = Integer.parseInt(a.options.getOrDefault("limit", "20"));
    } catch (NumberFormatException e) {
      throw new Args.UsageException("--limit: expected a number");
    }
    SparkSession spark = SparkSessions.forReading("jgen-show");
    spark.sparkContext().setLogLevel("WARN");
    TableView table = TableView.open(spark, output);
    String run = a.get("run");
    Dataset<Row> rows = run == null ? table.all() : table.all().where(col("run_id").equalTo(lit(run)));
    if (!a.flag("all-attempts")) {
      rows = table.latest(rows);
    }
    if (a.get("status") != null) {
      rows = rows.where(col("status").equalTo(a.get("status")));
    }
    rows = rows.orderBy(col("run_id"), col("input_row"), col(table.sampleColumn()), col("attempt")).limit(limit);
    if (format.equals("jsonl")) {
      rows.toJSON().collectAsList().forEach(out::println);
    } else {
      for (Row r : rows.withColumn("_jgen_text", table.text()).collectAsList()) {
        String text = r.getAs("status").equals("ok") ? r.getAs("_jgen_text") : r.getAs("error");
        out.printf("%s  %-12s #%d  attempt %d  %-5s  %s%n", r.getAs("run_id"), r.getAs(table.idColumn()),
            (Integer) r.getAs(table.sampleColumn()), (Integer) r.getAs("attempt"), r.getAs("status"), oneLine(text, 100));
      }
    }
    return 0;
  }

  /**
   * How to read each kind of jgen table (generations, MT-Bench answers and judgments, self-chat dialogues), told apart by their
   * columns: the id and sample columns, the text shown, the tokens counted.
   */
  private record TableView(String kind, Dataset<Row> all, String idColumn, String sampleColumn, Column text,
      Column completionTokens) {
    static TableView open(SparkSession spark, String path) {
      if (!DeltaTable.isDeltaTable(spark, path)) {
        throw new Args.UsageException("--output " + path + ": not a Delta table");
      }
      Dataset<Row> all = spark.read().format("delta").load(path);
      List<String> cols = List.of(all.columns());
      if (cols.contains("output_text") && cols.contains("sample_index")) {
        return new TableView("generations", all, "id", "sample_index", col("output_text"), col("completion_tokens"));
      }
      if (cols.contains("turns") && cols.contains("choice_index")) {
        return new TableView("MT-Bench answers", all, "question_id", "choice_index", expr("try_element_at(turns, -1).answer"),
            expr("aggregate(turns, 0, (acc, t) -> acc + coalesce(t.completion_tokens, 0))"));
      }
      if (cols.contains("judgment") && cols.contains("source_run_id")) {
        // job.kind=score: one row per scored generation (source run, id, sample).
        return new TableView("scores", all, "id", "sample_index",
            expr("concat('[', source_run_id, '] score ', coalesce(cast(score AS STRING), '?'), ': ', coalesce(judgment, ''))"),
            col("completion_tokens"));
      }
      if (cols.contains("instruction") && cols.contains("messages")) {
        return new TableView("Magpie instructions", all, "id", "sample_index",
            expr("concat(coalesce(instruction, ''), ' => ', coalesce(try_element_at(messages, 2).content, ''))"),
            expr("aggregate(steps, 0, (acc, s) -> acc + coalesce(s.completion_tokens, 0))"));
      }
      if (cols.contains("judgment") && cols.contains("turn")) {
        // One row per (answer, turn): show the score before the judgment's text.
        return new TableView("MT-Bench judgments", all, "question_id", "turn",
            expr("concat('[', model, '] score ', coalesce(cast(score AS STRING), '?'), ': ', coalesce(judgment, ''))"),
            col("completion_tokens"));
      }
      if (cols.contains("messages") && cols.contains("steps")) {
        return new TableView("self-chat dialogues", all, "id", "sample_index", expr("try_element_at(messages, -1).content"),
            expr("aggregate(steps, 0, (acc, s) -> acc + coalesce(s.completion_tokens, 0))"));
      }
      throw new Args.UsageException("--output " + path + ": not a jgen table (columns: " + String.join(", ", cols) + ")");
    }

    /** The latest attempt of each (run, row, sample). */
    Dataset<Row> latest(Dataset<Row> rows) {
      var w = Window.partitionBy(col("run_id"), col("row_key"), col(sampleColumn)).orderBy(col("attempt").desc(), col("created_at").desc());
      return rows.withColumn("_rank", functions.row_number().over(w)).where(col("_rank").equalTo(1)).drop("_rank");
    }
  }

  private static String required(Args a, String name) {
    if (a.get(name) == null) {
      throw new Args.UsageException("needs --" + name);
    }
    return a.get(name);
  }

  private static String ts(Object t) {
    return t == null ? "-" : t.toString().substring(0, Math.min(19, t.toString().length()));
  }

  static String oneLine(String s, int max) {
    if (s == null) {
      return "";
    }
    String one = s.replace("\n", "\\n");
    return one.length() <= max ? one : one.substring(0, max) + "…";
  }
}
