package dev.jgen.eval;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.input_file_name;
import static org.apache.spark.sql.functions.monotonically_increasing_id;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.GenerationSettings;
import dev.jgen.engine.Completion;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.InvalidRowException;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.spark.GenerateJob;
import java.io.PrintStream;
import java.io.Serializable;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * MT-Bench single-answer grading by a local judge model ({@code job.kind=judge}), as FastChat's
 * {@code gen_judgment.py --mode single} grades (fastchat/llm_judge/gen_judgment.py, common.py): for every answer
 * (model, question), a turn-1 judgment with {@code single-v1} ({@code single-math-v1} with the reference answer for the
 * categories in {@code judge.ref_categories}), and, for a question of exactly two turns, a turn-2 judgment of the whole
 * conversation with {@code single-v1-multi-turn} / {@code single-math-v1-multi-turn}. Only choice 0 of an answer is
 * judged, as FastChat does. The judge prompt (system prompt and filled template) is rendered with the judge model's own
 * chat template and generated at temperature 0 with {@code generation.max_new_tokens} (2048 unless set, as FastChat);
 * the rating is read by {@link JudgeRating}.
 *
 * <p>Input ({@code input.path}): a {@code job.kind=mtbench} Delta table (every run in it; a run's model is its
 * model_id, with "@run" added when two runs share one), or FastChat model_answer JSONL (a file or a folder of them; the
 * model is the file's name without .jsonl, as FastChat's load_model_answers names it). A judgment is a dialogue of one
 * step on {@link DialogueRun}: locks, resume, chunked exactly-once commits. An answer that cannot be judged (no such
 * question, another number of turns than the question's, no reference where one is needed, an error row of the
 * answers table) gives error rows naming the question, one per turn it would have been judged for: rows in = ok + error.
 */
public final class GenerateJudgments extends DialogueAction<GenerateJudgments, JudgmentResult> {
  public static final StructType SCHEMA = new StructType()
      .add("run_id", DataTypes.StringType, false)
      .add("question_id", DataTypes.StringType)
      .add("question_id_type", DataTypes.StringType)
      // <model>/<question_id>: one answer; with turn, one judgment.
      .add("row_key", DataTypes.StringType, false)
      .add("input_row", DataTypes.LongType, false)
      .add("turn", DataTypes.IntegerType, false)
      .add("attempt", DataTypes.IntegerType, false)
      .add("status", DataTypes.StringType, false)
      .add("error", DataTypes.StringType)
      .add("category", DataTypes.StringType)
      .add("model", DataTypes.StringType)
      .add("judge", DataTypes.StringType)
      .add("prompt_name", DataTypes.StringType)
      .add("user_prompt", DataTypes.StringType)
      .add("prompt", DataTypes.StringType)
      .add("judgment", DataTypes.StringType)
      // FastChat's score: the rating, -1 when the judgment holds none; null on error rows.
      .add("score", DataTypes.DoubleType)
      // The matched rating text ("8", "8.5"): an int or a float in the export, as Python's ast.literal_eval reads it.
      .add("rating", DataTypes.StringType)
      .add("prompt_tokens", DataTypes.IntegerType)
      .add("completion_tokens", DataTypes.IntegerType)
      .add("finish_reason", DataTypes.StringType)
      .add("latency_ms", DataTypes.LongType)
      .add("seed", DataTypes.LongType)
      .add("judge_model_id", DataTypes.StringType)
      .add("judge_fingerprint", DataTypes.StringType)
      .add("template_sha256", DataTypes.StringType)
      .add("engine", DataTypes.StringType)
      .add("engine_version", DataTypes.StringType)
      .add("engine_instance", DataTypes.StringType)
      .add("tstamp", DataTypes.DoubleType)
      .add("created_at", DataTypes.TimestampType, false);

  /** The table this kind writes (output.path). */
  static final dev.jgen.delta.RunTable.Spec SPEC = DialogueRun.spec(dev.jgen.delta.TableKind.JUDGE, SCHEMA, "turn");


  private final JudgePrompts prompts;

  private GenerateJudgments(SparkSession spark, GenerateJob job, JudgePrompts prompts) {
    super(spark, job);
    this.prompts = prompts;
  }

  /**
   * Loads and checks the judge prompts: call before Spark starts, so a bad prompt file is a config error (exit 2).
   *
   * @throws ConfigException naming the prompt and the placeholder it lacks
   */
  public static JudgePrompts prompts(GenerateJob job, Path confDir) {
    return JudgePrompts.load(GenerateJob.judgePrompts(job.config(), confDir));
  }

  public static GenerateJudgments of(SparkSession spark, GenerateJob job, JudgePrompts prompts) {
    if (!job.config().string(ConfigKeys.JOB_KIND).equals("judge")) {
      throw new ConfigException(ConfigKeys.JOB_KIND + ": expected judge");
    }
    return new GenerateJudgments(spark, job, prompts);
  }

  /** The judge's name in the judgments (FastChat's judge_model): judge.name, else the judge model's id. */
  public static String judgeName(GenerateJob job) {
    return job.config().isSet(ConfigKeys.JUDGE_NAME) ? job.config().string(ConfigKeys.JUDGE_NAME) : job.model().modelId();
  }

  /** A question of judge.questions: its category and user turns, or why it cannot be used. */
  record Question(Object rawId, String category, List<String> turns, String error) implements Serializable {}

  @Override
  public JudgmentResult execute() {
    var config = job.config();
    Map<String, Question> questions = readQuestions(spark, config.string(ConfigKeys.JUDGE_QUESTIONS));
    Map<String, List<String>> references = config.isSet(ConfigKeys.JUDGE_REFERENCES)
        ? readReferences(spark, config.string(ConfigKeys.JUDGE_REFERENCES)) : Map.of();
    Set<String> refCategories = new HashSet<>(config.strings(ConfigKeys.JUDGE_REF_CATEGORIES));
    JudgePrompts p = prompts;
    GenerationSettings generation = job.generation();
    String runId = job.runId();
    String judge = judgeName(job);
    String judgeModel = job.model().modelId();
    String fingerprint = job.model().fingerprint();
    String template = job.prompts().templateSha256();
    DialogueRun.Outcome o = run(new DialogueRun.Kind(SPEC) {
      @Override
      public JavaRDD<EvalInput.Record> input(SparkSession s, GenerateJob j, String idColumn, String idName) {
        List<EvalInput.Record> answers = withMissing(readAnswers(s, j), questions);
        return JavaSparkContext.fromSparkContext(s.sparkContext()).parallelize(answers,
            Math.max(1, Math.min(answers.size(), s.sparkContext().defaultParallelism())));
      }

      @Override
      public JavaRDD<Dialogue> dialogues(JavaRDD<EvalInput.Record> input, int n) {
        return input.flatMap(r -> judgments(r, questions, references, refCategories, p).iterator());
      }

      @Override
      public int samplesPerRow(int n) {
        return 3; // turns 1 and 2
      }

      @Override
      public DialoguePartition.Planner planner() {
        return new Planner(generation, ratingGrammar(job.config().integer(ConfigKeys.JUDGE_CONSTRAIN_RATING)));
      }

      @Override
      public int maxSteps() {
        return 1;
      }

      @Override
      public DialoguePartition.RowMaker rows(int attempt) {
        return d -> toRow(d, runId, attempt, judge, judgeModel, fingerprint, template);
      }

      @Override
      public void describeCommit(ObjectNode m) {
        m.put("judge", judge);
        m.put("judge_model_id", judgeModel);
        m.put("judge_prompts", p.file());
      }
    }, "question_id", "question_id");
    dev.jgen.delta.RunTable table = dev.jgen.delta.RunTable.open(spark, o.output(), SPEC);
    Row s = table.latest(runId).agg(sum(when(col("status").equalTo("ok").and(col("score").equalTo(-1)), 1).otherwise(0)))
        .first();
    long failedRatings = s.isNullAt(0) ? 0 : s.getLong(0);
    return new JudgmentResult(runId, o.attempt(), judge, o.rowsIn(), o.ok(), o.error(), failedRatings, o.generatedNow(), o.output(),
        o.completionTokensNow(), o.seconds(), o.stoppedBy());
  }

  // ---- input ----

  /** Lines of a JSONL file or folder with their file's name (without .jsonl), in file then line order. */
  static List<String[]> lines(SparkSession spark, String path) {
    List<String[]> out = new ArrayList<>();
    // Spark packs files into partitions by size: the order is restored by file name, then by position in the file.
    for (Row r : spark.read().text(path).select(input_file_name().as("f"), monotonically_increasing_id().as("i"), col("value"))
        .orderBy("f", "i").collectAsList()) {
      String f = r.getString(0);
      String base = f.substring(f.lastIndexOf('/') + 1);
      base = java.net.URLDecoder.decode(base.replace("+", "%2B"), java.nio.charset.StandardCharsets.UTF_8);
      out.add(new String[] {base.endsWith(".jsonl") ? base.substring(0, base.length() - 6) : base, r.getString(2)});
    }
    return out;
  }

  static Map<String, Question> readQuestions(SparkSession spark, String path) {
    Map<String, Question> out = new LinkedHashMap<>(); // in file order: missing answers are reported in that order
    for (String[] l : lines(spark, path)) {
      if (l[1].isBlank()) {
        continue;
      }
      Map<String, Object> f = EvalInput.parseLine(l[1]);
      Object id = f == null ? null : f.get("question_id");
      if (id == null) {
        continue; // an answer can name no such question: it becomes an error row "no such question"
      }
      String key = id.toString();
      String error = null;
      Object c = f.get("category");
      Object t = f.get("turns");
      List<String> turns = new ArrayList<>();
      if (!(c instanceof String cs) || cs.isBlank()) {
        error = "category: expected a string, got " + InvalidRowException.describe(c);
      } else if (!(t instanceof List<?> tl) || tl.isEmpty()) {
        error = "turns: expected a non-empty array of strings, got " + InvalidRowException.describe(t);
      } else {
        for (Object x : tl) {
          if (!(x instanceof String xs)) {
            error = "turns: expected strings, got " + InvalidRowException.describe(x);
            break;
          }
          turns.add(xs);
        }
      }
      if (out.containsKey(key)) {
        error = "question_id " + key + " appears more than once in judge.questions";
      }
      out.put(key, new Question(id, c instanceof String cs ? cs : null, turns, error));
    }
    return out;
  }

  /** FastChat reference answers (model_answer format): question_id -> choices[0].turns. */
  static Map<String, List<String>> readReferences(SparkSession spark, String path) {
    Map<String, List<String>> out = new HashMap<>();
    for (String[] l : lines(spark, path)) {
      Map<String, Object> f = l[1].isBlank() ? null : EvalInput.parseLine(l[1]);
      if (f == null || f.get("question_id") == null) {
        continue;
      }
      List<String> turns = choiceTurns(f);
      if (turns != null) {
        out.putIfAbsent(f.get("question_id").toString(), turns);
      }
    }
    return out;
  }

  /** choices[0].turns as strings, or null when the line has none. */
  private static List<String> choiceTurns(Map<String, Object> f) {
    if (!(f.get("choices") instanceof List<?> cs) || cs.isEmpty() || !(cs.get(0) instanceof Map<?, ?> c0)
        || !(c0.get("turns") instanceof List<?> ts)) {
      return null;
    }
    List<String> out = new ArrayList<>();
    for (Object t : ts) {
      if (!(t instanceof String s)) {
        return null;
      }
      out.add(s);
    }
    return out;
  }

  /** The answers to judge, one record per (model, question), read on the driver (answers are small: questions x models). */
  static List<EvalInput.Record> readAnswers(SparkSession spark, GenerateJob job) {
    String path = job.config().string(ConfigKeys.INPUT_PATH);
    List<EvalInput.Record> out = new ArrayList<>();
    Map<String, Long> firstRow = new HashMap<>();
    if (job.inputFormat().equals("delta")) {
      dev.jgen.delta.RunTable table = dev.jgen.delta.RunTable.open(spark, path, GenerateMtBenchAnswers.SPEC);
      List<String> runs = table.runIds();
      Map<String, Integer> modelRuns = new HashMap<>();
      Map<String, String> runModel = new LinkedHashMap<>();
      for (String run : runs) {
        Row m = table.run(run).select("model_id").where(col("model_id").isNotNull()).limit(1).collectAsList().stream().findFirst()
            .orElse(null);
        String model = m == null ? run : m.getString(0);
        runModel.put(run, model);
        modelRuns.merge(model, 1, Integer::sum);
      }
      for (String run : runs) {
        String model = modelRuns.get(runModel.get(run)) > 1 ? runModel.get(run) + "@" + run : runModel.get(run);
        for (Row r : table.latest(run).where(col("choice_index").equalTo(0)).orderBy("input_row").collectAsList()) {
          String qid = r.getAs("question_id");
          Map<String, Object> f = new LinkedHashMap<>();
          f.put("question_id", "int".equals(r.getAs("question_id_type")) && qid != null ? (Object) Long.parseLong(qid) : qid);
          f.put("model", model);
          List<String> answers = new ArrayList<>();
          for (Row t : r.<Row>getList(r.fieldIndex("turns"))) {
            answers.add(t.getAs("answer"));
          }
          f.put("answers", answers);
          String error = "ok".equals(r.getAs("status")) ? null
              : "question " + (qid == null ? r.getAs("row_key") : qid) + ": the answer of model " + model + " is an error row of run "
                  + run + " (" + r.getAs("error") + ")";
          add(out, firstRow, f, qid == null ? "#" + r.getAs("row_key") : qid, model, error);
        }
      }
      return out;
    }
    String file = null;
    long line = 0;
    for (String[] l : lines(spark, path)) {
      if (!l[0].equals(file)) {
        file = l[0];
        line = 0;
      }
      line++;
      if (l[1].isBlank()) {
        continue;
      }
      String model = l[0];
      String where = "answer file " + model + ".jsonl, line " + line;
      Map<String, Object> f = EvalInput.parseLine(l[1]);
      if (f == null) {
        out.add(new EvalInput.Record(out.size(), Map.of("model", model), null, model + "/#line" + line, where + ": not a JSON object"));
        continue;
      }
      Object id = f.get("question_id");
      Map<String, Object> g = new LinkedHashMap<>();
      g.put("question_id", id);
      g.put("model", model);
      List<String> turns = choiceTurns(f);
      g.put("answers", turns);
      String error = id == null ? where + ": no question_id"
          : turns == null ? "question " + id + ": the answer of model " + model + " has no choices[0].turns (an array of strings)"
          : null;
      add(out, firstRow, g, id == null ? "#line" + line : id.toString(), model, error);
    }
    return out;
  }

  /**
   * The answers, plus a record for every question a model of the input did not answer: FastChat's check_data stops on
   * those; here each becomes error rows naming the question, so a model's average is never silently over fewer questions.
   */
  static List<EvalInput.Record> withMissing(List<EvalInput.Record> answers, Map<String, Question> questions) {
    Map<String, Set<String>> answered = new LinkedHashMap<>();
    for (EvalInput.Record r : answers) {
      Object model = r.fields().get("model");
      if (model != null) {
        answered.computeIfAbsent(model.toString(), k -> new HashSet<>()).add(r.id());
      }
    }
    List<EvalInput.Record> out = new ArrayList<>(answers);
    for (Map.Entry<String, Set<String>> m : answered.entrySet()) {
      for (Map.Entry<String, Question> q : questions.entrySet()) {
        if (!m.getValue().contains(q.getKey())) {
          Map<String, Object> f = new LinkedHashMap<>();
          f.put("question_id", q.getValue().rawId());
          f.put("model", m.getKey());
          f.put("answers", null);
          out.add(new EvalInput.Record(out.size(), f, q.getKey(), m.getKey() + "/" + q.getKey(), "question " + q.getKey()
              + ": model " + m.getKey() + " has no answer to it in the input"));
        }
      }
    }
    return out;
  }

  private static void add(List<EvalInput.Record> out, Map<String, Long> firstRow, Map<String, Object> f, String qid, String model,
      String error) {
    long row = out.size();
    String key = model + "/" + qid;
    Long first = firstRow.putIfAbsent(key, row);
    if (first != null) {
      // FastChat's loader keeps the last line silently; here the later one is an error row, never a silent choice.
      out.add(new EvalInput.Record(row, f, qid, dev.jgen.input.RowKeys.repeatedKey(key, row),
          dev.jgen.input.RowKeys.repeatedMessage("question " + qid + ": a second answer of model " + model, first)));
      return;
    }
    out.add(new EvalInput.Record(row, f, qid, key, error));
  }

  /** The judgments of one answer: turn 1, and turn 2 when its question has two turns; error judgments naming the question. */
  static List<Dialogue> judgments(EvalInput.Record r, Map<String, Question> questions, Map<String, List<String>> references,
      Set<String> refCategories, JudgePrompts prompts) {
    Map<String, Object> f = r.fields();
    String model = (String) f.get("model");
    Object rawId = f.get("question_id");
    String qid = r.id();
    @SuppressWarnings("unchecked")
    List<String> answers = (List<String>) f.get("answers");
    Question q = qid == null ? null : questions.get(qid);
    String error = r.error();
    if (error == null && q == null) {
      error = "question " + qid + ": no such question in judge.questions (answered by model " + model + ")";
    }
    if (error == null && q.error() != null) {
      error = "question " + qid + ": judge.questions: " + q.error();
    }
    if (error == null && answers.size() != q.turns().size()) {
      error = "question " + qid + ": the answer of model " + model + " has " + answers.size() + " turn(s), the question has "
          + q.turns().size();
    }
    boolean needsRef = q != null && q.category() != null && refCategories.contains(q.category());
    List<String> ref = needsRef ? references.get(qid) : null;
    if (error == null && needsRef && ref == null) {
      error = "question " + qid + " (category " + q.category() + "): no reference answer in judge.references; categories "
          + String.join(", ", new java.util.TreeSet<>(refCategories)) + " are graded against one";
    }
    int turns = q != null && q.error() == null ? (q.turns().size() == 2 ? 2 : 1) : answers != null && answers.size() == 2 ? 2 : 1;
    List<Dialogue> out = new ArrayList<>();
    for (int turn = 1; turn <= turns; turn++) {
      Dialogue d = new Dialogue();
      d.inputRow = r.row();
      d.rowKey = r.key();
      d.id = qid;
      d.idType = rawId instanceof Number ? "int" : rawId instanceof String ? "string" : null;
      d.category = q == null ? null : q.category();
      d.sample = turn;
      d.judgedModel = model;
      d.error = error;
      if (error == null) {
        JudgePrompts.Prompt p = prompts.forTurn(turn, needsRef);
        d.promptName = p.name();
        Map<String, String> v = new HashMap<>();
        if (turn == 1) {
          v.put("question", q.turns().get(0));
          v.put("answer", answers.get(0));
        } else {
          v.put("question_1", q.turns().get(0));
          v.put("question_2", q.turns().get(1));
          v.put("answer_1", answers.get(0));
          v.put("answer_2", answers.get(1));
        }
        if (ref != null) {
          for (int i = 0; i < Math.min(2, ref.size()); i++) {
            v.put("ref_answer_" + (i + 1), ref.get(i));
          }
        }
        try {
          d.userTurns.add(JudgePrompts.format(p.template(), v));
          d.system = p.systemPrompt();
        } catch (IllegalArgumentException e) {
          d.error = "question " + qid + " turn " + turn + ": prompt " + p.name() + ": " + e.getMessage()
              + (ref != null ? " (the reference answer has " + ref.size() + " turn(s))" : "");
        }
      }
      out.add(d);
    }
    return out;
  }

  /**
   * judge.constrain_rating: a GBNF grammar of at most {@code chars} characters without square brackets, then "[[1]]" to
   * "[[10]]" (the rating FastChat's first pattern reads), or null for 0. The explanation is nested optionals rather
   * than a repetition count, which older llama.cpp grammars lack; nesting keeps the parser's stacks few per step.
   */
  static dev.jgen.structured.OutputConstraint ratingGrammar(int chars) {
    if (chars <= 0) {
      return null;
    }
    StringBuilder expl = new StringBuilder();
    for (int i = 0; i < chars; i++) {
      expl.append("(c ");
    }
    for (int i = 0; i < chars; i++) {
      expl.append(")?");
    }
    String gbnf = "root ::= expl \"[[\" rating \"]]\"\n"
        + "rating ::= [1-9] | \"10\"\n"
        + "expl ::= " + expl.toString().replace("(c )?", "c?") + "\n"
        + "c ::= [^\\[\\]]\n";
    return dev.jgen.structured.OutputConstraint.fromConfig(null, gbnf, null, null);
  }

  /** The one step of a judgment: the filled judge prompt, at temperature 0 (FastChat's judge calls). */
  static final class Planner implements DialoguePartition.Planner {
    private static final long serialVersionUID = 1L;
    private final GenerationSettings generation;
    private final dev.jgen.structured.OutputConstraint constraint;

    Planner(GenerationSettings generation, dev.jgen.structured.OutputConstraint constraint) {
      this.generation = generation;
      this.constraint = constraint;
    }

    @Override
    public DialoguePartition.Request plan(Dialogue d, int step) {
      if (step != 1 || d.userTurns.isEmpty()) {
        return null;
      }
      var params = generation.resolve(Map.of("temperature", 0.0), d.rowKey + d.seedSalt + "#judge-turn" + d.sample, 0);
      return new DialoguePartition.Request(d.sample, "judgment",
          new ChatInput(List.of(Dialogue.message("user", d.userTurns.get(0))), null, d.system, Map.of(), true, null, null), params,
          constraint);
    }

    @Override
    public void accept(Dialogue d, DialoguePartition.Request r, PreparedPrompt p, Completion c, long latencyMs) {
      // The judgment as the judge wrote it (FastChat keeps the API's text as is); the rating is read from it in toRow.
      d.answers.add(c.text());
      d.steps.add(new Dialogue.Step(r.turn(), r.kind(), p.text(), p.tokenIds() == null ? null : p.tokenIds().length, c.text(),
          c.completionTokens(), c.finishReason(), latencyMs, r.params().seed(), r.params().temperature()));
    }

    @Override
    public void fail(Dialogue d, DialoguePartition.Request r, String error) {
      d.error = "question " + d.id + " turn " + r.turn() + " (model " + d.judgedModel + "): the judge failed: " + error;
    }
  }

  static Row toRow(Dialogue d, String runId, int attempt, String judge, String judgeModel, String fingerprint, String template) {
    boolean ok = d.error == null && !d.steps.isEmpty();
    Dialogue.Step s = d.steps.isEmpty() ? null : d.steps.get(0);
    JudgeRating.Rating rating = ok ? JudgeRating.parse(s.text()) : null;
    long finished = d.finishedMillis > 0 ? d.finishedMillis : System.currentTimeMillis();
    return RowFactory.create(runId, d.id, d.idType, d.rowKey, d.inputRow, d.sample, attempt, ok ? "ok" : "error",
        ok ? null : d.error == null ? "no judgment was generated" : d.error, d.category, d.judgedModel, judge, d.promptName,
        d.userTurns.isEmpty() ? null : d.userTurns.get(0), s == null ? null : s.prompt(), s == null ? null : s.text(),
        rating == null ? null : rating.score(), rating == null ? null : rating.text(), s == null ? null : s.promptTokens(),
        s == null ? null : s.completionTokens(), s == null ? null : s.finishReason(), s == null ? null : s.latencyMs(),
        s == null ? null : s.seed(), judgeModel, fingerprint, template, d.engineKind, d.engineVersion, d.engineInstance,
        finished / 1000.0, new Timestamp(System.currentTimeMillis()));
  }
}
