package dev.jgen.curate;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.delta.RefusedException;
import dev.jgen.delta.RunTable;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * {@code jgen export sft|dpo}: a curated run as files a trainer reads as they are: {@code DIR/train.jsonl} (and
 * {@code DIR/train.parquet} with {@code --parquet}) and {@code DIR/README.md}, a Hugging Face dataset card.
 *
 * <p>SFT (kept rows, by id): {@code messages} ({@code {"messages": [{role, content}, ...]}}, TRL's conversational form),
 * {@code sharegpt} ({@code {"conversations": [{from: system|human|gpt, value}]}}) or {@code alpaca}
 * ({@code instruction}, {@code input} (empty), {@code output}, {@code system}; earlier turns of a multi-turn conversation
 * are not carried). DPO (TRL's conversational preference form): per id with at least two scored ok candidates and no
 * duplicate drop, {@code prompt} (the conversation up to the answer), {@code chosen} (the highest score, ties: the
 * lowest sample index) and {@code rejected} (the lowest score, ties: the highest sample index), each a one-message
 * assistant list, when chosen's score exceeds rejected's by at least the margin; {@code score_chosen} and
 * {@code score_rejected} as UltraFeedback-binarized has them. A candidate dropped as below_min_score or not_best_of_n
 * still serves as a rejected answer.
 */
public final class CuratedExport {
  private static final ObjectMapper JSON = new ObjectMapper();
  public static final List<String> SFT_FORMATS = List.of("messages", "sharegpt", "alpaca");

  /** What was written. */
  public record Result(String runId, Path dir, long lines, long skipped, Map<String, Long> details) {}

  private CuratedExport() {}

  public static Result sft(SparkSession spark, String table, String runId, Path dir, String format, boolean parquet) {
    if (!SFT_FORMATS.contains(format)) {
      throw new IllegalArgumentException("--format: " + format + "; one of " + String.join(", ", SFT_FORMATS));
    }
    RunTable t = open(spark, table);
    String run = run(t, table, runId);
    ObjectNode meta = metadata(spark, table, run);
    Iterator<Row> rows = t.run(run).where(col("kept"))
        .select("id", "row_key", "source_run_id", "sample_index", "messages", "output_text")
        .orderBy(col("id"), col("source_run_id"), col("row_key"), col("sample_index")).toLocalIterator();
    Path jsonl = dir.resolve("train.jsonl");
    long n = 0;
    try {
      Files.createDirectories(dir);
      Path tmp = temp(jsonl);
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        while (rows.hasNext()) {
          Row r = rows.next();
          List<String[]> conv = conversation(r.getList(r.fieldIndex("messages")));
          conv.add(new String[] {"assistant", r.getAs("output_text")});
          w.write(JSON.writeValueAsString(sftLine(conv, format)));
          w.write('\n');
          n++;
        }
      }
      Files.move(tmp, jsonl, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + jsonl + ": " + e.getMessage(), e);
    }
    if (parquet) {
      parquet(spark, jsonl, dir.resolve("train.parquet"));
    }
    Map<String, Long> details = new LinkedHashMap<>();
    details.put("examples", n);
    String card = DatasetCard.render("sft", format, n, parquet, meta, models(t, run, true), details);
    write(dir.resolve("README.md"), card);
    return new Result(run, dir, n, 0, details);
  }

  public static Result dpo(SparkSession spark, String table, String runId, Path dir, Double minMargin, boolean parquet) {
    RunTable t = open(spark, table);
    String run = run(t, table, runId);
    ObjectNode meta = metadata(spark, table, run);
    double margin = minMargin != null ? minMargin
        : meta.path("settings").path("dpo_min_margin").isNumber() ? meta.path("settings").get("dpo_min_margin").asDouble() : 1.0;
    if (margin < 0) {
      throw new IllegalArgumentException("--min-margin: " + margin + "; must be >= 0");
    }
    // An id dropped as a duplicate gives no pair, whichever of its samples carries the reason.
    var dupIds = t.run(run).where(col("drop_reason").isin("exact_duplicate", "near_duplicate"))
        .select(col("source_run_id").as("d_run"), col("row_key").as("d_key")).distinct();
    var candidates = t.run(run)
        .where(col("status").equalTo(lit("ok")).and(col("output_text").isNotNull())
            .and(col("drop_reason").isNull().or(col("drop_reason").isin("below_min_score", "not_best_of_n"))));
    Iterator<Row> rows = candidates
        .join(dupIds, col("source_run_id").equalTo(col("d_run")).and(col("row_key").equalTo(col("d_key"))), "left_anti")
        .select("id", "row_key", "source_run_id", "sample_index", "messages", "output_text", "score")
        .orderBy(col("id"), col("source_run_id"), col("row_key"), col("sample_index")).toLocalIterator();
    Path jsonl = dir.resolve("train.jsonl");
    long pairs = 0;
    long ids = 0;
    long tooFew = 0;
    long tooClose = 0;
    try {
      Files.createDirectories(dir);
      Path tmp = temp(jsonl);
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        List<Row> group = new ArrayList<>();
        while (rows.hasNext() || !group.isEmpty()) {
          Row r = rows.hasNext() ? rows.next() : null;
          if (r != null && (group.isEmpty() || sameUnit(group.get(0), r))) {
            group.add(r);
            continue;
          }
          ids++;
          List<Row> scored = group.stream().filter(g -> !g.isNullAt(g.fieldIndex("score"))).toList();
          if (scored.size() < 2) {
            tooFew++;
          } else {
            Row best = scored.get(0);
            Row worst = scored.get(0);
            for (Row s : scored) {
              if (score(s) > score(best)) {
                best = s;
              }
              if (score(s) <= score(worst)) {
                worst = s;
              }
            }
            double diff = score(best) - score(worst);
            if (diff <= 0 || diff < margin) {
              tooClose++;
            } else {
              ObjectNode line = JSON.createObjectNode();
              line.set("prompt", messagesJson(conversation(best.getList(best.fieldIndex("messages")))));
              line.set("chosen", messagesJson(List.<String[]>of(new String[] {"assistant", best.getAs("output_text")})));
              line.set("rejected", messagesJson(List.<String[]>of(new String[] {"assistant", worst.getAs("output_text")})));
              line.put("score_chosen", score(best));
              line.put("score_rejected", score(worst));
              w.write(JSON.writeValueAsString(line));
              w.write('\n');
              pairs++;
            }
          }
          group.clear();
          if (r != null) {
            group.add(r);
          }
        }
      }
      Files.move(tmp, jsonl, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + jsonl + ": " + e.getMessage(), e);
    }
    if (parquet) {
      parquet(spark, jsonl, dir.resolve("train.parquet"));
    }
    Map<String, Long> details = new LinkedHashMap<>();
    details.put("ids_with_an_ok_candidate", ids);
    details.put("pairs", pairs);
    details.put("ids_with_fewer_than_2_scored", tooFew);
    details.put("ids_below_margin", tooClose);
    ObjectNode m = meta.deepCopy();
    m.put("dpo_min_margin_used", margin);
    String card = DatasetCard.render("dpo", "dpo", pairs, parquet, m, models(t, run, false), details);
    write(dir.resolve("README.md"), card);
    return new Result(run, dir, pairs, ids - pairs, details);
  }

  private static boolean sameUnit(Row a, Row b) {
    return a.<String>getAs("row_key").equals(b.getAs("row_key")) && a.<String>getAs("source_run_id").equals(b.getAs("source_run_id"));
  }

  private static double score(Row r) {
    return r.getDouble(r.fieldIndex("score"));
  }

  private static RunTable open(SparkSession spark, String table) {
    try {
      return RunTable.open(spark, table, CuratedSchema.SPEC);
    } catch (RefusedException e) {
      throw new IllegalArgumentException("--output: " + e.getMessage().replace("; choose another output.path", "")
          + "; export sft/dpo reads a job.kind=curate table");
    }
  }

  private static String run(RunTable t, String table, String runId) {
    if (runId != null) {
      return runId;
    }
    List<String> runs = t.runIds();
    if (runs.size() != 1) {
      throw new IllegalArgumentException("--run: missing; " + table + " holds " + (runs.isEmpty() ? "no runs" : "runs "
          + String.join(", ", runs)));
    }
    return runs.get(0);
  }

  /** The curate run's commit metadata (sources, settings, counts). */
  static ObjectNode metadata(SparkSession spark, String table, String run) {
    for (Row r : io.delta.tables.DeltaTable.forPath(spark, table).history().select("userMetadata")
        .where(col("userMetadata").isNotNull()).collectAsList()) {
      try {
        JsonNode n = JSON.readTree(r.getString(0));
        if (n instanceof ObjectNode o && run.equals(o.path("run_id").asText(null))) {
          return o;
        }
      } catch (IOException e) {
        // not jgen's
      }
    }
    throw new IllegalArgumentException("--run " + run + ": no curate run of that id in " + table);
  }

  /** model_id -> fingerprints of the exported candidates. */
  private static Map<String, List<String>> models(RunTable t, String run, boolean keptOnly) {
    Map<String, List<String>> m = new TreeMap<>();
    var rows = t.run(run).where(keptOnly ? col("kept") : col("status").equalTo(lit("ok")))
        .select("model_id", "model_fingerprint").distinct().collectAsList();
    for (Row r : rows) {
      String id = r.isNullAt(0) ? "(unknown)" : r.getString(0);
      m.computeIfAbsent(id, k -> new ArrayList<>());
      if (!r.isNullAt(1)) {
        m.get(id).add(r.getString(1));
      }
    }
    m.values().forEach(l -> l.sort(null));
    return m;
  }

  static List<String[]> conversation(List<Row> messages) {
    List<String[]> out = new ArrayList<>();
    if (messages != null) {
      for (Row m : messages) {
        out.add(new String[] {m.getString(0), m.getString(1)});
      }
    }
    return out;
  }

  private static ArrayNode messagesJson(List<String[]> conv) {
    ArrayNode a = JSON.createArrayNode();
    for (String[] m : conv) {
      a.addObject().put("role", m[0]).put("content", m[1]);
    }
    return a;
  }

  static ObjectNode sftLine(List<String[]> conv, String format) {
    ObjectNode o = JSON.createObjectNode();
    switch (format) {
      case "messages" -> o.set("messages", messagesJson(conv));
      case "sharegpt" -> {
        ArrayNode a = o.putArray("conversations");
        for (String[] m : conv) {
          String from = switch (m[0]) {
            case "user" -> "human";
            case "assistant" -> "gpt";
            default -> m[0];
          };
          a.addObject().put("from", from).put("value", m[1]);
        }
      }
      case "alpaca" -> {
        String system = "";
        String instruction = "";
        for (String[] m : conv) {
          if (m[0].equals("system")) {
            system = m[1];
          } else if (m[0].equals("user")) {
            instruction = m[1];
          }
        }
        o.put("instruction", instruction);
        o.put("input", "");
        o.put("output", conv.get(conv.size() - 1)[1]);
        o.put("system", system);
      }
      default -> throw new IllegalArgumentException(format);
    }
    return o;
  }

  /** The JSONL lines as one Parquet file (Spark writes a folder; its one part file is moved into place). */
  private static void parquet(SparkSession spark, Path jsonl, Path target) {
    Path tmpDir = target.resolveSibling("." + target.getFileName() + ".tmp");
    try {
      deleteTree(tmpDir);
      spark.read().json(jsonl.toAbsolutePath().toString()).coalesce(1).write().mode("overwrite")
          .parquet(tmpDir.toAbsolutePath().toString());
      Path part;
      try (Stream<Path> files = Files.list(tmpDir)) {
        part = files.filter(p -> p.getFileName().toString().startsWith("part-") && p.toString().endsWith(".parquet")).findFirst()
            .orElseThrow(() -> new IOException("Spark wrote no part file in " + tmpDir));
      }
      Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
      deleteTree(tmpDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(p)) {
      for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }

  private static Path temp(Path p) {
    return p.resolveSibling("." + p.getFileName() + ".tmp");
  }

  private static void write(Path p, String text) {
    try {
      Path tmp = temp(p);
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      Files.move(tmp, p, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + p + ": " + e.getMessage(), e);
    }
  }
}
