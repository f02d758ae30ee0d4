package dev.jgen.eval;

import static org.apache.spark.sql.functions.col;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Writes a run of {@link GenerateMtBenchAnswers} as FastChat's model answer file, {@code DIR/<model_id>.jsonl}, one line
 * per question in input order, exactly as {@code gen_model_answer.py} writes it ({@code json.dumps}: ASCII, ", " and ": "):
 * <pre>{"question_id": 81, "answer_id": "…", "model_id": "…", "choices": [{"index": 0, "turns": ["…", "…"]}], "tstamp": 1732290000.123}</pre>
 * Choices are in index order. {@code answer_id} is stable: 22 characters of shortuuid's alphabet derived from (run,
 * question, model), so exporting twice gives the same file. {@code tstamp} is when the question's last choice finished,
 * in seconds. A question with an error in any choice (or a choice missing) is left out and counted: FastChat's judge
 * expects every turn of every question it scores.
 */
public final class ExportMtBenchAnswers {
  private static final String ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

  private final SparkSession spark;
  private final String tablePath;
  private String runId;
  private Path dir;
  private String modelId;

  private ExportMtBenchAnswers(SparkSession spark, String tablePath) {
    this.spark = spark;
    this.tablePath = tablePath;
  }

  /** @param tablePath the MT-Bench answers table ({@code output.path} of the mtbench job) */
  public static ExportMtBenchAnswers of(SparkSession spark, String tablePath) {
    return new ExportMtBenchAnswers(spark, tablePath);
  }

  /** The run to export; null (the default) when the table holds exactly one run. */
  public ExportMtBenchAnswers run(String id) {
    this.runId = id;
    return this;
  }

  /** The folder the answer file goes into (created if needed). */
  public ExportMtBenchAnswers to(Path folder) {
    this.dir = folder;
    return this;
  }

  /** The model_id written in the file and its name (default: the run's model_id, e.g. to match FastChat's --model-list). */
  public ExportMtBenchAnswers modelId(String id) {
    this.modelId = id;
    return this;
  }

  /**
   * @param leftOut question ids not exported (an error in a choice, or a choice missing), each with the reason
   */
  public record Result(String runId, String modelId, Path file, long questions, long exported, Map<String, String> leftOut) {}

  /**
   * @throws IllegalArgumentException when the table is not an MT-Bench answers table, or the run is not in it
   */
  public Result execute() {
    if (dir == null) {
      throw new IllegalArgumentException("--to: missing; the folder to write <model_id>.jsonl into");
    }
    dev.jgen.delta.RunTable table = dev.jgen.delta.RunTable.open(spark, tablePath, GenerateMtBenchAnswers.SPEC);
    String run = runId;
    if (run == null) {
      List<String> runs = table.runIds();
      if (runs.size() != 1) {
        throw new IllegalArgumentException("--run: missing; " + tablePath + " holds " + (runs.isEmpty() ? "no runs"
            : "runs " + String.join(", ", runs)));
      }
      run = runs.get(0);
    }
    List<Row> rows = table.latest(run)
        .select("question_id", "question_id_type", "row_key", "input_row", "choice_index", "status", "error", "model_id",
            "tstamp", "turns")
        .orderBy(col("input_row"), col("choice_index"))
        .collectAsList();
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("--run " + run + ": no such run in " + tablePath
          + " (runs: " + String.join(", ", table.runIds()) + ")");
    }
    String model = modelId != null ? modelId : rows.stream().map(r -> (String) r.getAs("model_id")).filter(m -> m != null)
        .findFirst().orElse("model");
    int choices = rows.stream().mapToInt(r -> (Integer) r.getAs("choice_index")).max().orElse(0) + 1;

    // Group by question, in input order.
    Map<String, List<Row>> byQuestion = new LinkedHashMap<>();
    for (Row r : rows) {
      byQuestion.computeIfAbsent(r.getAs("row_key"), k -> new ArrayList<>()).add(r);
    }
    Map<String, String> leftOut = new TreeMap<>();
    StringBuilder out = new StringBuilder();
    long exported = 0;
    for (Map.Entry<String, List<Row>> q : byQuestion.entrySet()) {
      List<Row> cs = q.getValue();
      Row first = cs.get(0);
      String label = first.getAs("question_id") != null ? first.getAs("question_id") : q.getKey();
      Row bad = cs.stream().filter(r -> !"ok".equals(r.getAs("status"))).findFirst().orElse(null);
      if (bad != null) {
        leftOut.put(label, "choice " + bad.getAs("choice_index") + ": " + bad.getAs("error"));
        continue;
      }
      if (cs.size() != choices) {
        leftOut.put(label, cs.size() + " of " + choices + " choices in the run");
        continue;
      }
      List<Object> choiceList = new ArrayList<>();
      double tstamp = 0;
      for (Row c : cs) {
        List<Object> turns = new ArrayList<>();
        for (Row t : c.<Row>getList(c.fieldIndex("turns"))) {
          turns.add(t.getAs("answer"));
        }
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", c.<Integer>getAs("choice_index"));
        choice.put("turns", turns);
        choiceList.add(choice);
        Double ts = c.getAs("tstamp");
        tstamp = Math.max(tstamp, ts == null ? 0 : ts);
      }
      String qid = first.getAs("question_id");
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("question_id", "int".equals(first.getAs("question_id_type")) ? (Object) Long.parseLong(qid) : qid);
      line.put("answer_id", answerId(run, qid, model));
      line.put("model_id", model);
      line.put("choices", choiceList);
      line.put("tstamp", tstamp);
      out.append(PyJson.dumps(line)).append('\n');
      exported++;
    }
    Path file = dir.resolve(model.replace('/', '_') + ".jsonl");
    try {
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, ".export-", ".tmp");
      Files.writeString(tmp, out.toString(), StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
    return new Result(run, model, file, byQuestion.size(), exported, leftOut);
  }

  /** 22 characters of shortuuid's alphabet from SHA-256(run, question, model): stable across exports. */
  static String answerId(String run, String questionId, String model) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256")
          .digest((run + "\u0000" + questionId + "\u0000" + model).getBytes(StandardCharsets.UTF_8));
      BigInteger v = new BigInteger(1, h);
      BigInteger base = BigInteger.valueOf(ALPHABET.length());
      StringBuilder s = new StringBuilder();
      for (int i = 0; i < 22; i++) {
        BigInteger[] qr = v.divideAndRemainder(base);
        s.append(ALPHABET.charAt(qr[1].intValue()));
        v = qr[0];
      }
      return s.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
