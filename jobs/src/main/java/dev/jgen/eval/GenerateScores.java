package dev.jgen.eval;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.GenerationSettings;
import dev.jgen.engine.Completion;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.SteerLmAttributes;
import dev.jgen.spark.GenerateJob;
import java.io.PrintStream;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Scores of generations by a local judge model ({@code job.kind=score}): every ok row (latest attempt) of every run of
 * a generations table ({@code input.path}: a {@code generate}, {@code magpie}, {@code selfchat} or {@code mtbench}
 * table) is rated once, at temperature 0, with the rubric ({@link ScoreRubric}) rendered in the judge's own chat
 * template. The rating is read as FastChat reads a judgment ({@link JudgeRating}: {@code [[x]]}, else {@code [x]},
 * else -1), or, with {@code score.json=true}, from structured output {@code {"score": int, "reason": str}}.
 * One output row per (source run, id, sample): {@code score}, {@code judgment} and the lineage of both models.
 *
 * <p>What the rubric's {@code {instruction}} and {@code {response}} are, per source kind: generate: the rendered
 * prompt and {@code output_text} (the table keeps no other form of the instruction); magpie: {@code instruction} and
 * the answer; selfchat and mtbench: the last answer, with the conversation before it as the instruction (one turn:
 * the user's text; more: "ユーザー: …" / "アシスタント: …" lines ending with the last user turn).
 */
public final class GenerateScores extends DialogueAction<GenerateScores, SyntheticResult> {
  public static final List<String> SOURCE_KINDS = List.of("generate", "magpie", "selfchat", "mtbench");

  public static final StructType SCHEMA = new StructType()
      .add("run_id", DataTypes.StringType, false)
      .add("source_run_id", DataTypes.StringType)
      .add("source_kind", DataTypes.StringType)
      .add("id", DataTypes.StringType)
      // <source run>/<source row_key>: with sample_index, one scored generation.
      .add("row_key", DataTypes.StringType, false)
      .add("input_row", DataTypes.LongType, false)
      .add("sample_index", DataTypes.IntegerType, false)
      .add("attempt", DataTypes.IntegerType, false)
      .add("status", DataTypes.StringType, false)
      .add("error", DataTypes.StringType)
      .add("instruction", DataTypes.StringType)
      .add("response", DataTypes.StringType)
      .add("system", DataTypes.StringType)
      .add("prompt", DataTypes.StringType)
      .add("judgment", DataTypes.StringType)
      // The rating: FastChat's reading of the judgment (-1 when it holds none), or the JSON's score; null on error rows.
      .add("score", DataTypes.DoubleType)
      .add("rating", DataTypes.StringType)
      .add("reason", DataTypes.StringType)
      .add("prompt_tokens", DataTypes.IntegerType)
      .add("completion_tokens", DataTypes.IntegerType)
      .add("finish_reason", DataTypes.StringType)
      .add("latency_ms", DataTypes.LongType)
      .add("seed", DataTypes.LongType)
      .add("source_model_id", DataTypes.StringType)
      .add("source_model_fingerprint", DataTypes.StringType)
      .add("source_template_sha256", DataTypes.StringType)
      .add("judge_model_id", DataTypes.StringType)
      .add("judge_fingerprint", DataTypes.StringType)
      .add("judge_template_sha256", DataTypes.StringType)
      .add("engine", DataTypes.StringType)
      .add("engine_version", DataTypes.StringType)
      .add("rubric_sha256", DataTypes.StringType)
      .add("created_at", DataTypes.TimestampType, false);

  /** The table this kind writes (output.path). */
  static final dev.jgen.delta.RunTable.Spec SPEC = DialogueRun.spec(dev.jgen.delta.TableKind.SCORE, SCHEMA, "sample_index");

  /** The JSON schema of score.json=true. */
  static final String JSON_SCHEMA = "{\"type\":\"object\",\"properties\":{\"score\":{\"type\":\"integer\"},"
      + "\"reason\":{\"type\":\"string\"}},\"required\":[\"score\",\"reason\"],\"additionalProperties\":false}";

  /** What a scoring job needs checked before Spark starts. */
  public record Setup(ScoreRubric rubric, String sourceKind, GenerateJob job) {}

  private final Setup setup;

  private GenerateScores(SparkSession spark, GenerateJob job, Setup setup) {
    super(spark, job);
    this.setup = setup;
  }

  /**
   * Loads the rubric and tells the source table's kind: call before Spark starts, so a rubric lacking a placeholder or a
   * table of another kind is a config error (exit 2).
   */
  public static Setup prepare(GenerateJob job, Path confDir) {
    if (!job.config().string(ConfigKeys.JOB_KIND).equals("score")) {
      throw new ConfigException(ConfigKeys.JOB_KIND + ": expected score");
    }
    ScoreRubric rubric = ScoreRubric.load(GenerateJob.scoreRubric(job.config(), confDir));
    String path = job.config().string(ConfigKeys.INPUT_PATH);
    String kind = sourceKind(path);
    if (!SOURCE_KINDS.contains(kind)) {
      throw new ConfigException(ConfigKeys.INPUT_PATH + ": " + path + " is " + (kind == null ? "not a jgen generations table"
          : "a job.kind=" + kind + " table") + "; job.kind=score rates a " + String.join(", ", SOURCE_KINDS) + " table");
    }
    if (kind.equals("generate") && job.prompts().specialTokensInContent().equals("reject")) {
      // A generate row's instruction is its rendered prompt, which holds the template's special-token text (its BOS at
      // least): escaped, so it reaches the judge as plain text instead of failing every row (prompt.special_tokens_in_content
      // reject is read as escape here; allow passes it as is).
      var p = job.prompts();
      var prompts = new dev.jgen.prompt.PromptSpec(p.modelId(), p.templateSource(), p.templateSha256(), p.templateOrigin(),
          p.specialTokens(), p.tokenizerJson(), p.tokenizerSha256(), p.contextLength(), "escape", p.attributesApplyTo(),
          p.templateReadsAttributes(), p.templateIgnoresSystem());
      job = new GenerateJob(job.config(), job.inputFormat(), job.model(), prompts, job.engine(), job.generation(), job.runId(),
          job.configHash());
    }
    return new Setup(rubric, kind, job);
  }

  /** The kind of jgen table at the path, told from its schema (Delta Kernel, no Spark); null when it is none of them. */
  static String sourceKind(String path) {
    List<String> names = new ArrayList<>();
    try {
      var engine = io.delta.kernel.defaults.engine.DefaultEngine.create(new org.apache.hadoop.conf.Configuration());
      String resolved = engine.getFileSystemClient().resolvePath(path);
      io.delta.kernel.TableManager.loadSnapshot(resolved).build(engine).getSchema().fields().forEach(f -> names.add(f.getName()));
    } catch (Exception e) {
      throw new ConfigException(ConfigKeys.INPUT_PATH + ": cannot read the Delta table " + path + ": " + e.getMessage(), e);
    }
    if (names.contains("judgment")) {
      return names.contains("source_run_id") ? "score" : "judge";
    }
    if (names.contains("instruction") && names.contains("messages")) {
      return "magpie";
    }
    if (names.contains("choice_index") && names.contains("turns")) {
      return "mtbench";
    }
    if (names.contains("messages") && names.contains("steps")) {
      return "selfchat";
    }
    if (names.contains("output_text") && names.contains("sample_index")) {
      return "generate";
    }
    return null;
  }

  public static GenerateScores of(SparkSession spark, GenerateJob job, Setup setup) {
    return new GenerateScores(spark, job, setup);
  }

  @Override
  public SyntheticResult execute() {
    var config = job.config();
    GenerationSettings generation = job.generation();
    String runId = job.runId();
    String judgeModel = job.model().modelId();
    String fingerprint = job.model().fingerprint();
    String template = job.prompts().templateSha256();
    ScoreRubric rubric = setup.rubric();
    String rubricSha = dev.jgen.prompt.PromptSpecs.sha256(rubric.template().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    String kind = setup.sourceKind();
    boolean json = config.bool(ConfigKeys.SCORE_JSON);
    dev.jgen.structured.OutputConstraint constraint = json
        ? dev.jgen.structured.OutputConstraint.fromConfig(JSON_SCHEMA, null, null, null)
        : GenerateJudgments.ratingGrammar(config.integer(ConfigKeys.SCORE_CONSTRAIN_RATING));
    Dataset<Row> source = source(spark, config.string(ConfigKeys.INPUT_PATH), kind);
    int samples = Math.max(1, source.isEmpty() ? 1 : source.agg(functions.max("sample")).first().getInt(0) + 1);
    DialogueRun.Outcome o = run(new DialogueRun.Kind(SPEC) {
      @Override
      public JavaRDD<EvalInput.Record> input(SparkSession s, GenerateJob j, String idColumn, String idName) {
        return records(source);
      }

      @Override
      public JavaRDD<Dialogue> dialogues(JavaRDD<EvalInput.Record> input, int n) {
        return input.map(r -> dialogue(r, rubric));
      }

      @Override
      public int samplesPerRow(int n) {
        return samples;
      }

      @Override
      public DialoguePartition.Planner planner() {
        return new Planner(generation, constraint, json);
      }

      @Override
      public int maxSteps() {
        return 1;
      }

      @Override
      public DialoguePartition.RowMaker rows(int attempt) {
        return d -> toRow(d, runId, attempt, kind, judgeModel, fingerprint, template, rubricSha, json);
      }

      @Override
      public void describeCommit(ObjectNode m) {
        m.put("score_model_id", judgeModel);
        m.put("score_rubric", rubric.file());
        m.put("score_rubric_sha256", rubricSha);
        m.put("score_json", json);
        m.put("source_kind", kind);
        m.put("source_path", config.string(ConfigKeys.INPUT_PATH));
      }
    }, "id", "id");
    return new SyntheticResult("score", runId, o.attempt(), o.rowsIn(), o.ok(), o.error(), o.generatedNow(), o.output(),
        o.promptTokensNow(), o.completionTokensNow(), o.seconds(), o.stoppedBy());
  }

  // ---- input ----

  /**
   * The ok rows of the source table, latest attempt of each (run, row, sample), as columns source_run, row_key, id,
   * sample, instruction, response, system, attributes (a map), model_id, model_fingerprint, template_sha256.
   */
  static Dataset<Row> source(SparkSession spark, String path, String kind) {
    Dataset<Row> t = spark.read().format("delta").load(path);
    String sample = kind.equals("mtbench") ? "choice_index" : "sample_index";
    var w = Window.partitionBy("run_id", "row_key", sample).orderBy(col("attempt").desc(), col("created_at").desc());
    Dataset<Row> latest = t.withColumn("_rank", functions.row_number().over(w)).where(col("_rank").equalTo(1)).drop("_rank")
        .where(col("status").equalTo("ok"));
    var none = functions.lit(null).cast(DataTypes.StringType);
    var attrs = t.schema().getFieldIndex("attributes").isDefined() ? functions.to_json(col("attributes")) : none;
    Dataset<Row> out = switch (kind) {
      case "generate" -> latest.select(col("run_id"), col("row_key"), col("id"), col(sample).as("sample"),
          col("prompt").as("instruction"), col("output_text").as("response"), none.as("system"), attrs.as("attributes"),
          none.as("turns"), col("model_id"), col("model_fingerprint"), col("template_sha256"));
      case "magpie" -> latest.select(col("run_id"), col("row_key"), col("id"), col(sample).as("sample"), col("instruction"),
          functions.element_at(col("messages"), -1).getField("content").as("response"), col("system"), attrs.as("attributes"),
          none.as("turns"), col("model_id"), col("model_fingerprint"), col("template_sha256"));
      case "selfchat" -> latest.select(col("run_id"), col("row_key"), col("id"), col(sample).as("sample"),
          none.as("instruction"), none.as("response"), col("system"), none.as("attributes"), functions.to_json(col("messages")).as("turns"), col("model_id"), col("model_fingerprint"),
          col("template_sha256"));
      case "mtbench" -> latest.select(col("run_id"), col("row_key"), col("question_id").as("id"), col(sample).as("sample"),
          none.as("instruction"), none.as("response"), none.as("system"), none.as("attributes"),
          functions.to_json(functions.transform(col("turns"), x -> functions.array(
              functions.struct(functions.lit("user").as("role"), x.getField("user").as("content")),
              functions.struct(functions.lit("assistant").as("role"), x.getField("answer").as("content"))))).as("turns"),
          col("model_id"), col("model_fingerprint"), col("template_sha256"));
      default -> throw new IllegalArgumentException(kind);
    };
    return out.orderBy("run_id", "row_key", "sample");
  }

  static JavaRDD<EvalInput.Record> records(Dataset<Row> source) {
    return source.javaRDD().zipWithIndex().map(t -> {
      Row r = t._1();
      Map<String, Object> f = new LinkedHashMap<>();
      for (String c : r.schema().fieldNames()) {
        f.put(c, r.getAs(c));
      }
      String key = r.<String>getAs("run_id") + "/" + r.<String>getAs("row_key");
      return new EvalInput.Record(t._2(), f, r.getAs("id"), key, null);
    });
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  static Dialogue dialogue(EvalInput.Record r, ScoreRubric rubric) throws java.io.IOException {
    Map<String, Object> f = r.fields();
    Dialogue d = new Dialogue();
    d.inputRow = r.row();
    d.rowKey = r.key();
    d.id = r.id();
    d.sample = (Integer) f.get("sample");
    d.sourceRun = (String) f.get("run_id");
    d.system = (String) f.get("system");
    String instruction = (String) f.get("instruction");
    String response = (String) f.get("response");
    String turns = (String) f.get("turns");
    if (turns != null) {
      // A conversation (selfchat, mtbench): nested arrays are flattened (mtbench's turns are pairs).
      List<String[]> messages = new ArrayList<>();
      flatten(JSON.readTree(turns), messages);
      if (!messages.isEmpty()) {
        int last = messages.size() - 1;
        response = "assistant".equals(messages.get(last)[0]) ? messages.get(last)[1] : null;
        List<String[]> before = messages.subList(0, response == null ? messages.size() : last);
        if (before.size() == 1) {
          instruction = before.get(0)[1];
        } else {
          StringBuilder sb = new StringBuilder();
          for (String[] m : before) {
            sb.append(sb.length() == 0 ? "" : "\n").append("user".equals(m[0]) ? "ユーザー: " : "アシスタント: ").append(m[1]);
          }
          instruction = sb.toString();
        }
      }
    }
    d.fields.put("instruction", instruction);
    d.fields.put("response", response);
    d.fields.put("source_model_id", (String) f.get("model_id"));
    d.fields.put("source_model_fingerprint", (String) f.get("model_fingerprint"));
    d.fields.put("source_template_sha256", (String) f.get("template_sha256"));
    if (instruction == null || response == null) {
      d.error = "the source row holds no " + (instruction == null ? "instruction" : "response") + " to score";
      return d;
    }
    Map<String, String> values = new LinkedHashMap<>();
    values.put("instruction", instruction);
    values.put("response", response);
    values.put("system", d.system == null ? "" : d.system);
    if (f.get("attributes") instanceof String a) {
      JSON.readTree(a).fields().forEachRemaining(e -> {
        if (SteerLmAttributes.NAMES.contains(e.getKey()) && !e.getValue().isNull()) {
          values.put(e.getKey(), e.getValue().asText());
        }
      });
    }
    try {
      d.userTurns.add(rubric.fill(values));
    } catch (IllegalArgumentException e) {
      d.error = e.getMessage();
    }
    return d;
  }

  private static void flatten(JsonNode n, List<String[]> out) {
    if (n.isArray()) {
      n.forEach(x -> flatten(x, out));
    } else if (n.isObject() && n.path("content").isTextual()) {
      out.add(new String[] {n.path("role").asText(), n.get("content").asText()});
    }
  }

  /** The one step of a score: the filled rubric as the user's message, at temperature 0. */
  static final class Planner implements DialoguePartition.Planner {
    private static final long serialVersionUID = 1L;
    private final GenerationSettings generation;
    private final dev.jgen.structured.OutputConstraint constraint;
    private final boolean json;

    Planner(GenerationSettings generation, dev.jgen.structured.OutputConstraint constraint, boolean json) {
      this.generation = generation;
      this.constraint = constraint;
      this.json = json;
    }

    @Override
    public DialoguePartition.Request plan(Dialogue d, int step) {
      if (step != 1 || d.userTurns.isEmpty()) {
        return null;
      }
      var params = generation.resolve(Map.of("temperature", 0.0), d.rowKey + d.seedSalt + "#score", d.sample);
      return new DialoguePartition.Request(1, "score", new ChatInput(List.of(Dialogue.message("user", d.userTurns.get(0))), null,
          null, Map.of(), true, null, null), params, constraint);
    }

    @Override
    public void accept(Dialogue d, DialoguePartition.Request r, PreparedPrompt p, Completion c, long latencyMs) {
      d.answers.add(c.text());
      d.steps.add(new Dialogue.Step(r.turn(), r.kind(), p.text(), p.tokenIds() == null ? null : p.tokenIds().length, c.text(),
          c.completionTokens(), c.finishReason(), latencyMs, r.params().seed(), r.params().temperature()));
    }

    @Override
    public void fail(Dialogue d, DialoguePartition.Request r, String error) {
      d.error = "the judge failed: " + error;
    }
  }

  static Row toRow(Dialogue d, String runId, int attempt, String kind, String judgeModel, String fingerprint, String template,
      String rubricSha, boolean json) {
    Dialogue.Step s = d.steps.isEmpty() ? null : d.steps.get(0);
    String error = d.error;
    Double score = null;
    String rating = null;
    String reason = null;
    if (error == null && s == null) {
      error = "no judgment was generated";
    }
    if (error == null && json) {
      try {
        JsonNode n = JSON.readTree(s.text());
        score = n.get("score").asDouble();
        rating = n.get("score").asText();
        reason = n.get("reason").asText();
      } catch (Exception e) {
        error = "the judge's JSON could not be read: " + e.getMessage(); // the constraint was checked: not expected
      }
    } else if (error == null) {
      JudgeRating.Rating x = JudgeRating.parse(s.text());
      score = x.score();
      rating = x.text();
    }
    boolean ok = error == null;
    return RowFactory.create(runId, d.sourceRun, kind, d.id, d.rowKey, d.inputRow, d.sample, attempt, ok ? "ok" : "error", error,
        d.fields.get("instruction"), d.fields.get("response"), d.system, s == null ? null : s.prompt(), s == null ? null : s.text(),
        score, rating, reason, s == null ? null : s.promptTokens(), s == null ? null : s.completionTokens(),
        s == null ? null : s.finishReason(), s == null ? null : s.latencyMs(), s == null ? null : s.seed(),
        d.fields.get("source_model_id"), d.fields.get("source_model_fingerprint"), d.fields.get("source_template_sha256"),
        judgeModel, fingerprint, template, d.engineKind, d.engineVersion, rubricSha, new Timestamp(System.currentTimeMillis()));
  }
}
