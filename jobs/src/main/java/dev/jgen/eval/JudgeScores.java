package dev.jgen.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The tables MT-Bench model cards publish, from judgments ({@code jgen scores}): per model the average, the first and
 * second turn and each category, as FastChat's {@code show_result.py --mode single} averages
 * (fastchat/llm_judge/show_result.py, display_result_single): judgments scoring -1 are dropped (and counted), then the
 * mean per (model, turn) and per model over every judgment left. A category's score is the mean of its judgments over
 * both turns (FastChat's radar charts); {@code category_average} the mean of the category scores (the "averaged over
 * categories" some cards report). {@code normalize} divides every score by 10 (the 0-1 scale of the Swallow card).
 * Several judge runs: each metric is computed per run, then reported as the runs' mean and sample standard deviation.
 */
public final class JudgeScores {
  /** FastChat's category order (MT-Bench's radar); other categories follow, sorted. */
  static final List<String> CATEGORY_ORDER = List.of("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem",
      "humanities");

  /** One judgment: score -1 is a failed rating; category null when unknown. */
  public record Judgment(String model, String questionId, int turn, String category, double score) {}

  /** One judge run's judgments, and the error rows it holds per model (never judgments, only counted). */
  public record Run(String name, List<Judgment> judgments, Map<String, Long> errors) {}

  /** A metric over runs. */
  public record Stat(double mean, double std, List<Double> runs) {}

  public record ModelScores(String model, Stat average, Stat turn1, Stat turn2, Stat categoryAverage, Map<String, Stat> categories,
      long judgments, long failed, long errors) {}

  public record Report(List<String> runs, boolean normalized, List<ModelScores> models) {}

  private JudgeScores() {}

  /** Every run of a judgments table (or the named ones), each its own run. */
  public static List<Run> fromTable(SparkSession spark, String path, List<String> runIds) {
    dev.jgen.delta.RunTable table = dev.jgen.delta.RunTable.open(spark, path, GenerateJudgments.SPEC);
    List<String> all = table.runIds();
    List<String> ids = runIds == null || runIds.isEmpty() ? all : runIds;
    List<Run> out = new ArrayList<>();
    for (String id : ids) {
      if (!all.contains(id)) {
        throw new IllegalArgumentException("--run " + id + ": no such run in " + path + " (runs: " + String.join(", ", all) + ")");
      }
      List<Judgment> js = new ArrayList<>();
      Map<String, Long> errors = new TreeMap<>();
      for (Row r : table.latest(id).select("model", "question_id", "turn", "category", "score", "status").collectAsList()) {
        if ("ok".equals(r.getString(5))) {
          js.add(new Judgment(r.getString(0), r.getString(1), r.getInt(2), r.getString(3), r.getDouble(4)));
        } else {
          errors.merge(String.valueOf(r.getString(0)), 1L, Long::sum);
        }
      }
      out.add(new Run(id, js, errors));
    }
    return out;
  }

  /**
   * A FastChat single-judgment file (model_judgment/*_single.jsonl) as one run; categories from the questions when
   * given (FastChat's file has none).
   */
  public static Run fromFile(Path file, Map<String, String> categories) {
    ObjectMapper json = new ObjectMapper();
    List<Judgment> js = new ArrayList<>();
    try {
      int n = 0;
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        n++;
        if (line.isBlank()) {
          continue;
        }
        JsonNode o = json.readTree(line);
        if (!o.path("score").isNumber() || !o.path("turn").isNumber() || !o.hasNonNull("model") || !o.hasNonNull("question_id")) {
          throw new IllegalArgumentException(file + " line " + n + ": not a FastChat single judgment (model, question_id, score, turn)");
        }
        String qid = o.get("question_id").asText();
        js.add(new Judgment(o.get("model").asText(), qid, o.get("turn").asInt(), categories == null ? null : categories.get(qid),
            o.get("score").asDouble()));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
    return new Run(file.getFileName().toString(), js, Map.of());
  }

  /** question_id -> category of a FastChat question.jsonl. */
  public static Map<String, String> categories(Path questions) {
    ObjectMapper json = new ObjectMapper();
    Map<String, String> out = new HashMap<>();
    try {
      for (String line : Files.readAllLines(questions, StandardCharsets.UTF_8)) {
        if (!line.isBlank()) {
          JsonNode o = json.readTree(line);
          if (o.hasNonNull("question_id") && o.path("category").isTextual()) {
            out.put(o.get("question_id").asText(), o.get("category").asText());
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + questions + ": " + e.getMessage(), e);
    }
    return out;
  }

  /** Sums of one model in one run. */
  private static final class Acc {
    double sum;
    long n;
    final double[] turnSum = new double[3];
    final long[] turnN = new long[3];
    final Map<String, double[]> cat = new HashMap<>();
    long failed;
  }

  public static Report compute(List<Run> runs, boolean normalize) {
    double scale = normalize ? 10.0 : 1.0;
    TreeSet<String> models = new TreeSet<>();
    List<Map<String, Acc>> perRun = new ArrayList<>();
    for (Run run : runs) {
      Map<String, Acc> accs = new HashMap<>();
      for (Judgment j : run.judgments()) {
        models.add(j.model());
        Acc a = accs.computeIfAbsent(j.model(), k -> new Acc());
        if (j.score() == -1) {
          a.failed++; // show_result.py: df[df["score"] != -1]
          continue;
        }
        double s = j.score() / scale;
        a.sum += s;
        a.n++;
        if (j.turn() == 1 || j.turn() == 2) {
          a.turnSum[j.turn()] += s;
          a.turnN[j.turn()]++;
        }
        if (j.category() != null) {
          double[] c = a.cat.computeIfAbsent(j.category(), k -> new double[2]);
          c[0] += s;
          c[1]++;
        }
      }
      run.errors().keySet().forEach(models::add);
      perRun.add(accs);
    }
    List<ModelScores> out = new ArrayList<>();
    for (String m : models) {
      List<Double> avg = new ArrayList<>();
      List<Double> t1 = new ArrayList<>();
      List<Double> t2 = new ArrayList<>();
      List<Double> catAvg = new ArrayList<>();
      Map<String, List<Double>> cats = new TreeMap<>(JudgeScores::compareCategories);
      long judgments = 0;
      long failed = 0;
      long errors = 0;
      for (int i = 0; i < runs.size(); i++) {
        errors += runs.get(i).errors().getOrDefault(m, 0L);
        Acc a = perRun.get(i).get(m);
        if (a == null) {
          continue;
        }
        judgments += a.n + a.failed;
        failed += a.failed;
        if (a.n > 0) {
          avg.add(a.sum / a.n);
        }
        if (a.turnN[1] > 0) {
          t1.add(a.turnSum[1] / a.turnN[1]);
        }
        if (a.turnN[2] > 0) {
          t2.add(a.turnSum[2] / a.turnN[2]);
        }
        if (!a.cat.isEmpty()) {
          double sum = 0;
          for (Map.Entry<String, double[]> e : a.cat.entrySet()) {
            double mean = e.getValue()[0] / e.getValue()[1];
            cats.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(mean);
            sum += mean;
          }
          catAvg.add(sum / a.cat.size());
        }
      }
      Map<String, Stat> catStats = new LinkedHashMap<>();
      cats.forEach((k, v) -> catStats.put(k, stat(v)));
      out.add(new ModelScores(m, stat(avg), stat(t1), stat(t2), stat(catAvg), catStats, judgments, failed, errors));
    }
    return new Report(runs.stream().map(Run::name).toList(), normalize, out);
  }

  static int compareCategories(String a, String b) {
    int ia = CATEGORY_ORDER.indexOf(a);
    int ib = CATEGORY_ORDER.indexOf(b);
    if (ia >= 0 || ib >= 0) {
      return ia < 0 ? 1 : ib < 0 ? -1 : Integer.compare(ia, ib);
    }
    return a.compareTo(b);
  }

  /** Mean and sample standard deviation (0 for one run); null when no run has the metric. */
  static Stat stat(List<Double> v) {
    if (v.isEmpty()) {
      return null;
    }
    double mean = v.stream().mapToDouble(Double::doubleValue).sum() / v.size();
    double ss = 0;
    for (double x : v) {
      ss += (x - mean) * (x - mean);
    }
    return new Stat(mean, v.size() > 1 ? Math.sqrt(ss / (v.size() - 1)) : 0, List.copyOf(v));
  }

  // ---- output ----

  public static String text(Report r) {
    StringBuilder sb = new StringBuilder();
    boolean several = r.runs().size() > 1;
    String digits = r.normalized() ? "%.4f" : "%.2f";
    sb.append(String.format(Locale.ROOT, "MT-Bench scores (%s, %s; %d judge run%s: %s)%s%n", r.normalized() ? "0-1, score/10" : "0-10",
        "FastChat show_result: -1 dropped", r.runs().size(), several ? "s" : "", String.join(", ", r.runs()),
        several ? "; mean ±std over runs" : ""));
    TreeSet<String> cats = new TreeSet<>(JudgeScores::compareCategories);
    r.models().forEach(m -> cats.addAll(m.categories().keySet()));
    int w = several ? 16 : 9;
    sb.append(String.format(Locale.ROOT, "%-32s %" + w + "s %" + w + "s %" + w + "s %" + w + "s %8s %7s %7s%n", "MODEL", "AVERAGE",
        "TURN 1", "TURN 2", "CATEGORY_AVG", "JUDGED", "FAILED", "ERRORS"));
    for (ModelScores m : r.models()) {
      sb.append(String.format(Locale.ROOT, "%-32s %" + w + "s %" + w + "s %" + w + "s %" + w + "s %8d %7d %7d%n", m.model(),
          fmt(m.average(), digits, several), fmt(m.turn1(), digits, several), fmt(m.turn2(), digits, several),
          fmt(m.categoryAverage(), digits, several), m.judgments(), m.failed(), m.errors()));
    }
    if (!cats.isEmpty()) {
      sb.append(String.format("%nPer category (both turns):%n%-32s", "MODEL"));
      for (String c : cats) {
        sb.append(String.format(Locale.ROOT, " %" + w + "s", c));
      }
      sb.append('\n');
      for (ModelScores m : r.models()) {
        sb.append(String.format("%-32s", m.model()));
        for (String c : cats) {
          sb.append(String.format(Locale.ROOT, " %" + w + "s", fmt(m.categories().get(c), digits, several)));
        }
        sb.append('\n');
      }
    }
    return sb.toString();
  }

  private static String fmt(Stat s, String digits, boolean several) {
    if (s == null) {
      return "-";
    }
    String mean = String.format(Locale.ROOT, digits, s.mean());
    return several ? mean + " ±" + String.format(Locale.ROOT, digits, s.std()) : mean;
  }

  public static String json(Report r) {
    ObjectMapper om = new ObjectMapper();
    ObjectNode root = om.createObjectNode();
    root.put("normalized", r.normalized());
    ArrayNode runs = root.putArray("runs");
    r.runs().forEach(runs::add);
    ObjectNode models = root.putObject("models");
    for (ModelScores m : r.models()) {
      ObjectNode o = models.putObject(m.model());
      put(o, "average", m.average());
      put(o, "turn_1", m.turn1());
      put(o, "turn_2", m.turn2());
      put(o, "category_average", m.categoryAverage());
      ObjectNode c = o.putObject("categories");
      m.categories().forEach((k, v) -> put(c, k, v));
      o.put("judgments", m.judgments());
      o.put("failed", m.failed());
      o.put("errors", m.errors());
    }
    return root.toString();
  }

  private static void put(ObjectNode o, String key, Stat s) {
    if (s == null) {
      o.putNull(key);
      return;
    }
    ObjectNode n = o.putObject(key);
    n.put("mean", s.mean());
    n.put("std", s.std());
    ArrayNode a = n.putArray("runs");
    s.runs().forEach(a::add);
  }

  /** Long format: model,metric,mean,std,runs (metric: average, turn_1, turn_2, category_average, category:NAME, judgments, failed, errors). */
  public static String csv(Report r) {
    StringBuilder sb = new StringBuilder("model,metric,mean,std,runs\n");
    for (ModelScores m : r.models()) {
      row(sb, m.model(), "average", m.average());
      row(sb, m.model(), "turn_1", m.turn1());
      row(sb, m.model(), "turn_2", m.turn2());
      row(sb, m.model(), "category_average", m.categoryAverage());
      m.categories().forEach((k, v) -> row(sb, m.model(), "category:" + k, v));
      sb.append(csvField(m.model())).append(",judgments,").append(m.judgments()).append(",,\n");
      sb.append(csvField(m.model())).append(",failed,").append(m.failed()).append(",,\n");
      sb.append(csvField(m.model())).append(",errors,").append(m.errors()).append(",,\n");
    }
    return sb.toString();
  }

  private static void row(StringBuilder sb, String model, String metric, Stat s) {
    if (s == null) {
      return;
    }
    sb.append(csvField(model)).append(',').append(csvField(metric)).append(',').append(s.mean()).append(',').append(s.std()).append(',')
        .append(s.runs().size()).append('\n');
  }

  private static String csvField(String s) {
    return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
  }
}
