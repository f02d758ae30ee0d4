package dev.jgen.report;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.delta.RefusedException;
import dev.jgen.delta.RunsTable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;

/**
 * {@code jgen report}: one self-contained HTML file telling how a run went, for whoever checks last night's job. A summary
 * table (attempts, rows, tokens, how each attempt ended) and charts: rows and tokens over time, tokens/s over time,
 * requests in flight and busy fraction per engine instance, latency and completion-length histograms, finish reasons,
 * errors by message, and for attribute sweeps the completion lengths per attribute value. The charts are drawn by
 * ECharts (SVG renderer), inlined from its WebJar with the data, so the file opens with no network.
 *
 * <p>Rows in flight per engine instance are reconstructed from each row's {@code created_at} (when it finished) and
 * {@code latency_ms} (how long it took): the intervals a row held the engine. Only ok and error rows with a latency
 * count; skipped rows never reached the engine.
 */
public final class RunReport {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ECHARTS = "META-INF/resources/webjars/echarts/5.3.1/dist/echarts.min.js";

  /** What was written: the run, its rows, and the charts drawn. */
  public record Result(String runId, long rows, List<String> charts, Path file) {}

  private RunReport() {}

  /**
   * @param run the run to report, or null for the table's most recent one
   * @throws RefusedException naming the runs the table holds, when it holds no rows of {@code run}
   */
  public static Result write(SparkSession spark, String tablePath, String run, Path to) throws IOException {
    Dataset<Row> all = spark.read().format("delta").load(tablePath);
    List<String> runs = all.select("run_id").distinct().orderBy("run_id").collectAsList().stream().map(r -> r.getString(0)).toList();
    if (runs.isEmpty()) {
      throw new RefusedException(tablePath + " holds no run yet");
    }
    String runId = run;
    if (runId == null) {
      runId = all.orderBy(col("created_at").desc()).select("run_id").first().getString(0);
    } else if (!runs.contains(runId)) {
      throw new RefusedException("--run " + runId + ": no rows of that run in " + tablePath + " (it holds: " + String.join(", ", runs) + ")");
    }
    var w = Window.partitionBy("row_key", "sample_index").orderBy(col("attempt").desc(), col("created_at").desc());
    Dataset<Row> latest = all.where(col("run_id").equalTo(lit(runId))).withColumn("_rank", functions.row_number().over(w))
        .where(col("_rank").equalTo(1)).drop("_rank");
    // The run's rows (small enough to chart: a report is for one run), in the order they finished.
    List<Row> rows = latest.select(col("status"), col("error"), col("finish_reason"), col("completion_tokens"),
        col("prompt_tokens"), col("latency_ms"), col("created_at"), col("engine_instance"), col("attempt"),
        functions.to_json(col("attributes")).as("attributes"), col("model_id"), col("engine"))
        .orderBy("created_at").collectAsList();
    ObjectNode data = JSON.createObjectNode();
    data.put("run_id", runId);
    data.set("summary", summary(spark, tablePath, runId, rows));
    data.set("series", series(rows));
    List<String> charts = new ArrayList<>(List.of("rows_tokens", "tokens_per_s", "in_flight", "busy", "latency", "lengths",
        "finish_reasons", "errors"));
    if (data.get("series").has("attributes")) {
      charts.add("attributes");
    }
    String html = html(data, charts);
    Files.createDirectories(to.toAbsolutePath().getParent());
    Files.writeString(to, html, StandardCharsets.UTF_8);
    return new Result(runId, rows.size(), charts, to);
  }

  /** The summary table: the run's totals, and each attempt as the runs table recorded it. */
  private static ObjectNode summary(SparkSession spark, String tablePath, String runId, List<Row> rows) {
    ObjectNode s = JSON.createObjectNode();
    long ok = rows.stream().filter(r -> "ok".equals(r.getString(0))).count();
    long error = rows.stream().filter(r -> "error".equals(r.getString(0))).count();
    s.put("run", runId);
    s.put("rows", rows.size());
    s.put("ok", ok);
    s.put("error", error);
    s.put("skipped", rows.size() - ok - error);
    s.put("prompt_tokens", rows.stream().mapToLong(r -> r.isNullAt(4) ? 0 : r.getInt(4)).sum());
    s.put("completion_tokens", rows.stream().mapToLong(r -> r.isNullAt(3) ? 0 : r.getInt(3)).sum());
    if (!rows.isEmpty()) {
      s.put("model", String.valueOf((Object) rows.get(0).getAs("model_id")));
      s.put("engine", String.valueOf((Object) rows.get(0).getAs("engine")));
    }
    ArrayNode attempts = s.putArray("attempts");
    RunsTable.openIfExists(spark, RunsTable.besideOutput(tablePath)).ifPresent(t -> {
      for (var a : t.attempts(runId)) {
        ObjectNode o = attempts.addObject();
        o.put("attempt", a.attempt());
        o.put("status", a.status());
        o.put("started_at", String.valueOf(a.startedAt()));
        o.put("ended_at", a.endedAt() == null ? "" : String.valueOf(a.endedAt()));
        o.put("generated", a.generated() == null ? 0 : a.generated());
        o.put("completion_tokens", a.completionTokens() == null ? 0 : a.completionTokens());
        o.put("seconds", a.seconds() == null ? 0 : a.seconds());
        o.put("message", a.message() == null ? "" : a.message().length() > 200 ? a.message().substring(0, 200) + "..." : a.message());
      }
    });
    return s;
  }

  /** Every chart's data, computed here: the page only draws. */
  private static ObjectNode series(List<Row> rows) {
    ObjectNode out = JSON.createObjectNode();
    long t0 = rows.stream().mapToLong(r -> ((Timestamp) r.getAs("created_at")).getTime() - latency(r)).min().orElse(0);
    long t1 = rows.stream().mapToLong(r -> ((Timestamp) r.getAs("created_at")).getTime()).max().orElse(t0);
    long bucket = Math.max(1, (t1 - t0) / 60); // about 60 buckets over the run (ms)
    int n = (int) ((t1 - t0) / bucket) + 1;
    long[] rowsDone = new long[n];
    long[] tokens = new long[n];
    for (Row r : rows) {
      int b = (int) ((((Timestamp) r.getAs("created_at")).getTime() - t0) / bucket);
      rowsDone[b]++;
      tokens[b] += r.isNullAt(3) ? 0 : r.getInt(3);
    }
    ArrayNode cumulative = out.putArray("rows_tokens");
    ArrayNode rate = out.putArray("tokens_per_s");
    long cr = 0;
    long ct = 0;
    for (int i = 0; i < n; i++) {
      cr += rowsDone[i];
      ct += tokens[i];
      double sec = (i + 1) * bucket / 1000.0;
      cumulative.addArray().add(sec).add(cr).add(ct);
      rate.addArray().add(sec).add(tokens[i] / (bucket / 1000.0));
    }
    // Requests in flight per engine instance over time, from each row's [finished - latency, finished] interval.
    Map<String, TreeMap<Long, Integer>> deltas = new TreeMap<>();
    for (Row r : rows) {
      if (r.isNullAt(5) || r.getAs("engine_instance") == null) {
        continue;
      }
      long end = ((Timestamp) r.getAs("created_at")).getTime();
      TreeMap<Long, Integer> d = deltas.computeIfAbsent(shortName(r.getAs("engine_instance")), k -> new TreeMap<>());
      d.merge(end - latency(r), 1, Integer::sum);
      d.merge(end, -1, Integer::sum);
    }
    ObjectNode inFlight = out.putObject("in_flight");
    ObjectNode busy = out.putObject("busy");
    for (var e : deltas.entrySet()) {
      ArrayNode points = inFlight.putArray(e.getKey());
      int level = 0;
      long busyMs = 0;
      long last = t0;
      for (var d : e.getValue().entrySet()) {
        if (level > 0) {
          busyMs += d.getKey() - last;
        }
        points.addArray().add((d.getKey() - t0) / 1000.0).add(level);
        level += d.getValue();
        points.addArray().add((d.getKey() - t0) / 1000.0).add(level);
        last = d.getKey();
      }
      busy.put(e.getKey(), t1 > t0 ? Math.min(1.0, busyMs / (double) (t1 - t0)) : 0);
    }
    out.set("latency", histogram(rows.stream().filter(r -> !r.isNullAt(5)).mapToLong(r -> r.getLong(5)).toArray(), "ms"));
    out.set("lengths", histogram(rows.stream().filter(r -> !r.isNullAt(3)).mapToLong(r -> r.getInt(3)).toArray(), "tokens"));
    out.set("finish_reasons", counts(rows.stream().map(r -> r.getString(0).equals("ok")
        ? String.valueOf((Object) r.getAs("finish_reason")) : r.getString(0)).toList()));
    out.set("errors", counts(rows.stream().filter(r -> "error".equals(r.getString(0)))
        .map(r -> firstWords(r.getString(1))).toList()));
    // Attribute sweeps: the mean completion length per value of each attribute the rows carry.
    Map<String, Map<Integer, long[]>> byAttribute = new TreeMap<>();
    for (Row r : rows) {
      String attrs = r.getAs("attributes");
      if (attrs == null || r.isNullAt(3)) {
        continue;
      }
      try {
        var node = JSON.readTree(attrs);
        node.fields().forEachRemaining(f -> {
          if (f.getValue().isInt()) {
            long[] acc = byAttribute.computeIfAbsent(f.getKey(), k -> new TreeMap<>()).computeIfAbsent(f.getValue().asInt(), k -> new long[2]);
            acc[0] += r.getInt(3);
            acc[1]++;
          }
        });
      } catch (IOException e) {
        // not JSON: no attributes
      }
    }
    if (!byAttribute.isEmpty()) {
      ObjectNode a = out.putObject("attributes");
      for (var e : byAttribute.entrySet()) {
        ArrayNode values = a.putArray(e.getKey());
        for (var v : e.getValue().entrySet()) {
          values.addArray().add(v.getKey()).add(v.getValue()[0] / (double) v.getValue()[1]);
        }
      }
    }
    return out;
  }

  private static long latency(Row r) {
    return r.isNullAt(5) ? 0 : r.getLong(5);
  }

  private static String shortName(String instance) {
    return instance.length() > 12 ? instance.substring(0, 12) : instance;
  }

  private static String firstWords(String error) {
    if (error == null) {
      return "(no message)";
    }
    String e = error.replaceAll("[0-9]+", "N");
    return e.length() > 80 ? e.substring(0, 80) + "..." : e;
  }

  private static ObjectNode counts(List<String> values) {
    Map<String, Long> c = new TreeMap<>();
    values.forEach(v -> c.merge(v, 1L, Long::sum));
    ObjectNode o = JSON.createObjectNode();
    c.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(20)
        .forEach(e -> o.put(e.getKey(), e.getValue()));
    return o;
  }

  /** About 20 equal bins from 0 to the largest value. */
  private static ObjectNode histogram(long[] values, String unit) {
    ObjectNode h = JSON.createObjectNode();
    h.put("unit", unit);
    long max = java.util.Arrays.stream(values).max().orElse(0);
    long width = Math.max(1, (max + 20) / 20);
    long[] bins = new long[(int) (max / width) + 1];
    for (long v : values) {
      bins[(int) (v / width)]++;
    }
    ArrayNode b = h.putArray("bins");
    for (int i = 0; i < bins.length; i++) {
      b.addArray().add(i * width + "-" + ((i + 1) * width - 1)).add(bins[i]);
    }
    return h;
  }

  private static String html(ObjectNode data, List<String> charts) throws IOException {
    String echarts;
    try (InputStream in = RunReport.class.getClassLoader().getResourceAsStream(ECHARTS)) {
      if (in == null) {
        throw new IOException("ECharts (" + ECHARTS + ") is not on the class path");
      }
      echarts = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    String page;
    try (InputStream in = RunReport.class.getResourceAsStream("report.html")) {
      page = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    // Inlined as text inside <script>: only "</script" could end it early.
    String json = JSON.writeValueAsString(data).replace("</", "<\\/");
    return page.replace("/*ECHARTS*/", echarts.replace("</script", "<\\/script"))
        .replace("/*DATA*/null", json)
        .replace("/*CHARTS*/[]", JSON.writeValueAsString(charts))
        .replace("{{RUN}}", escape(data.get("run_id").asText()));
  }

  private static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
