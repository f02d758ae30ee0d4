package dev.jgen.eval;

import static org.apache.spark.sql.functions.col;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Writes a run of {@link GenerateJudgments} as FastChat's single-judgment file, {@code model_judgment/<judge>_single.jsonl},
 * one line per judgment as {@code play_a_match_single} appends it ({@code json.dumps}: ASCII, ", " and ": "):
 * <pre>{"question_id": 81, "model": "m", "judge": ["judge", "single-v1"], "user_prompt": "…", "judgment": "…", "score": 8, "turn": 1, "tstamp": 1732290000.123}</pre>
 * {@code score} is an int or a float as {@code ast.literal_eval} read the rating, -1 without one; turn-1 judgments
 * first, then turn 2, each in input order (FastChat's order when it plays matches one at a time). Error rows were never
 * judgments: they are left out and counted. FastChat's {@code show_result.py --input-file} reads the file.
 */
public final class ExportJudgments {
  private final SparkSession spark;
  private final String tablePath;
  private String runId;
  private Path dir;

  private ExportJudgments(SparkSession spark, String tablePath) {
    this.spark = spark;
    this.tablePath = tablePath;
  }

  public static ExportJudgments of(SparkSession spark, String tablePath) {
    return new ExportJudgments(spark, tablePath);
  }

  /** The run to export; null when the table holds exactly one. */
  public ExportJudgments run(String id) {
    this.runId = id;
    return this;
  }

  /**
   * The folder: the file goes to {@code DIR/model_judgment/<judge>_single.jsonl}, or {@code DIR/<judge>_single.jsonl}
   * when DIR is itself named model_judgment (FastChat's data/&lt;bench&gt;/model_judgment).
   */
  public ExportJudgments to(Path folder) {
    this.dir = folder;
    return this;
  }

  /** @param leftOut error rows not exported, "question turn N (model M)" -> the error */
  public record Result(String runId, String judge, Path file, long judgments, long exported, long failedRatings,
      Map<String, String> leftOut) {}

  public Result execute() {
    if (dir == null) {
      throw new IllegalArgumentException("--to: missing; the folder to write model_judgment/<judge>_single.jsonl into");
    }
    dev.jgen.delta.RunTable table = dev.jgen.delta.RunTable.open(spark, tablePath, GenerateJudgments.SPEC);
    String run = runId;
    List<String> runs = table.runIds();
    if (run == null) {
      if (runs.size() != 1) {
        throw new IllegalArgumentException("--run: missing; " + tablePath + " holds " + (runs.isEmpty() ? "no runs"
            : "runs " + String.join(", ", runs) + " (one file per judge run)"));
      }
      run = runs.get(0);
    } else if (!runs.contains(run)) {
      throw new IllegalArgumentException("--run " + run + ": no such run in " + tablePath + " (runs: " + String.join(", ", runs) + ")");
    }
    List<Row> rows = table.latest(run).orderBy(col("turn"), col("input_row")).collectAsList();
    String judge = rows.stream().map(r -> (String) r.getAs("judge")).filter(j -> j != null).findFirst().orElse("judge");
    StringBuilder out = new StringBuilder();
    Map<String, String> leftOut = new TreeMap<>();
    long exported = 0;
    long failed = 0;
    for (Row r : rows) {
      String qid = r.getAs("question_id");
      if (!"ok".equals(r.getAs("status"))) {
        leftOut.put("question " + qid + " turn " + r.getAs("turn") + " (model " + r.getAs("model") + ")", r.getAs("error"));
        continue;
      }
      String rating = r.getAs("rating");
      double score = r.getAs("score");
      Object pyScore;
      if (score == -1) {
        pyScore = -1L;
        failed++;
      } else if (rating != null && !rating.contains(".")) {
        pyScore = (long) score;
      } else {
        pyScore = score;
      }
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("question_id", "int".equals(r.getAs("question_id_type")) ? (Object) Long.parseLong(qid) : qid);
      line.put("model", r.getAs("model"));
      line.put("judge", List.of(r.<String>getAs("judge"), r.<String>getAs("prompt_name")));
      line.put("user_prompt", r.getAs("user_prompt"));
      line.put("judgment", r.getAs("judgment"));
      line.put("score", pyScore);
      line.put("turn", (long) r.<Integer>getAs("turn"));
      line.put("tstamp", r.<Double>getAs("tstamp"));
      out.append(PyJson.dumps(line)).append('\n');
      exported++;
    }
    Path folder = dir.getFileName() != null && dir.getFileName().toString().equals("model_judgment") ? dir : dir.resolve("model_judgment");
    Path file = folder.resolve(judge.replace('/', '_') + "_single.jsonl");
    try {
      Files.createDirectories(folder);
      Path tmp = Files.createTempFile(folder, ".export-", ".tmp");
      Files.writeString(tmp, out.toString(), StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
    return new Result(run, judge, file, rows.size(), exported, failed, leftOut);
  }
}
