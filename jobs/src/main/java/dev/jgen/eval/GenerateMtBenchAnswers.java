package dev.jgen.eval;

import dev.jgen.input.Texts;
import dev.jgen.input.MtBenchTemperatures;
import dev.jgen.prompt.InvalidRowException;
import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.GenerationSettings;
import dev.jgen.config.JobConfig;
import dev.jgen.engine.Completion;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.spark.GenerateJob;
import java.io.PrintStream;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;

/**
 * MT-Bench(-jp) answers ({@code job.kind=mtbench}), as FastChat's {@code gen_model_answer} makes them: input rows are
 * FastChat questions ({@code question_id}, {@code category}, {@code turns}: the user turns, optional {@code system});
 * pass k generates turn k of every (question, choice) whose earlier turns all succeeded, with the conversation so far
 * (the user turns and this run's own answers, stripped as FastChat strips them) rendered by the model's chat template.
 * Each category has its temperature ({@link MtBenchTemperatures}); {@code generation.n} choices, each turn with its own
 * seed derived from ({@code generation.seed}, question, turn, choice).
 *
 * <p>Output: a Delta table at {@code output.path}, one row per (question, choice) and attempt ({@link #SCHEMA}).
 * Re-running resumes the run: pairs already ok are kept, the rest are generated again as a new attempt
 * ({@code run.mode=new} replaces the run). {@link ExportMtBenchAnswers} writes the FastChat answer file.
 */
public final class GenerateMtBenchAnswers extends DialogueAction<GenerateMtBenchAnswers, MtBenchResult> {
  public static final StructType TURN = new StructType()
      .add("turn", DataTypes.IntegerType)
      .add("user", DataTypes.StringType)
      .add("prompt", DataTypes.StringType)
      .add("answer", DataTypes.StringType)
      .add("prompt_tokens", DataTypes.IntegerType)
      .add("completion_tokens", DataTypes.IntegerType)
      .add("finish_reason", DataTypes.StringType)
      .add("latency_ms", DataTypes.LongType)
      .add("seed", DataTypes.LongType);

  public static final StructType SCHEMA = new StructType()
      .add("run_id", DataTypes.StringType, false)
      .add("question_id", DataTypes.StringType)
      // "int" | "string": how the input wrote question_id; the export writes it back the same way.
      .add("question_id_type", DataTypes.StringType)
      .add("row_key", DataTypes.StringType, false)
      .add("input_row", DataTypes.LongType, false)
      .add("choice_index", DataTypes.IntegerType, false)
      .add("attempt", DataTypes.IntegerType, false)
      .add("status", DataTypes.StringType, false)
      .add("error", DataTypes.StringType)
      .add("category", DataTypes.StringType)
      .add("temperature", DataTypes.DoubleType)
      .add("model_id", DataTypes.StringType)
      .add("model_fingerprint", DataTypes.StringType)
      .add("template_sha256", DataTypes.StringType)
      .add("engine", DataTypes.StringType)
      .add("engine_version", DataTypes.StringType)
      .add("engine_instance", DataTypes.StringType)
      .add("turns", DataTypes.createArrayType(TURN))
      .add("tstamp", DataTypes.DoubleType)
      .add("created_at", DataTypes.TimestampType, false);

  /** The table this kind writes (output.path). */
  static final dev.jgen.delta.RunTable.Spec SPEC = DialogueRun.spec(dev.jgen.delta.TableKind.MTBENCH, SCHEMA, "choice_index");


  private final MtBenchTemperatures temperatures;

  private GenerateMtBenchAnswers(SparkSession spark, GenerateJob job) {
    super(spark, job);
    this.temperatures = MtBenchTemperatures.of(job.config());
    if (job.engine() == null) {
      throw new ConfigException(ConfigKeys.ENGINE_KIND + ": none cannot answer MT-Bench questions (turn 2 needs the answer to "
          + "turn 1); set it to llamacpp or djl-serving");
    }
  }

  /** @throws ConfigException for a bad mtbench.temperatures value or engine.kind=none, before Spark does anything */
  public static GenerateMtBenchAnswers of(SparkSession spark, GenerateJob job) {
    return new GenerateMtBenchAnswers(spark, job);
  }

  @Override
  public MtBenchResult execute() {
    int n = job.config().integer(ConfigKeys.N);
    MtBenchTemperatures temps = temperatures;
    GenerationSettings generation = job.generation();
    String runId = job.runId();
    String modelId = job.model().modelId();
    String fingerprint = job.model().fingerprint();
    String template = job.prompts().templateSha256();
    DialogueRun.Outcome o = run(new DialogueRun.Kind(SPEC) {
      @Override
      public JavaRDD<Dialogue> dialogues(JavaRDD<EvalInput.Record> input, int samples) {
        return input.flatMap(r -> questions(r, samples, temps).iterator());
      }

      @Override
      public DialoguePartition.Planner planner() {
        return new Planner(generation);
      }

      @Override
      public int maxSteps() {
        return Integer.MAX_VALUE; // every turn the question has
      }

      @Override
      public DialoguePartition.RowMaker rows(int attempt) {
        return d -> toRow(d, runId, attempt, modelId, fingerprint, template);
      }

    }, "question_id", "question_id");
    dev.jgen.delta.RunTable table = dev.jgen.delta.RunTable.open(spark, o.output(), SPEC);
    Row tok = table.latest(runId).select(explode(col("turns")).as("t"))
        .agg(sum(coalesce(col("t.prompt_tokens"), lit(0))), sum(coalesce(col("t.completion_tokens"), lit(0)))).first();
    return new MtBenchResult(runId, o.attempt(), o.rowsIn() / Math.max(1, n), n, o.rowsIn(), o.ok(), o.error(), o.generatedNow(),
        o.output(), longOr0(tok, 0), longOr0(tok, 1), o.completionTokensNow(), o.seconds(), o.stoppedBy());
  }

  private static long longOr0(Row r, int i) {
    return r.isNullAt(i) ? 0 : r.getLong(i);
  }

  /** One dialogue per choice of a question, or error dialogues naming what is wrong with it. */
  static List<Dialogue> questions(EvalInput.Record r, int n, MtBenchTemperatures temps) {
    String error = r.error();
    Map<String, Object> f = r.fields();
    List<String> turns = new ArrayList<>();
    String category = null;
    String system = null;
    if (error == null) {
      Object c = f.get("category");
      if (c instanceof String s) {
        category = s;
      }
      error = c == null ? "category: missing"
          : !(c instanceof String s) ? "category: expected a string, got " + InvalidRowException.describe(c)
          : s.isBlank() ? "category: empty" : null;
    }
    if (error == null) {
      Object t = f.get("turns");
      if (t == null) {
        error = "turns: missing";
      } else if (!(t instanceof List<?> l)) {
        error = "turns: expected an array of strings, got " + InvalidRowException.describe(t);
      } else if (l.isEmpty()) {
        error = "turns: empty; a question needs at least one user turn";
      } else {
        for (int i = 0; i < l.size() && error == null; i++) {
          Object x = l.get(i);
          if (!(x instanceof String s)) {
            error = "turns[" + i + "]: expected a string, got " + InvalidRowException.describe(x);
          } else if (s.isBlank()) {
            error = "turns[" + i + "]: empty";
          } else {
            turns.add(s);
          }
        }
      }
    }
    if (error == null && f.get("system") != null) {
      if (f.get("system") instanceof String s) {
        system = s;
      } else {
        error = "system: expected a string, got " + InvalidRowException.describe(f.get("system"));
      }
    }
    List<Dialogue> out = new ArrayList<>();
    Object rawId = f == null ? null : f.get("question_id");
    for (int i = 0; i < n; i++) {
      Dialogue d = new Dialogue();
      d.inputRow = r.row();
      d.rowKey = r.key();
      d.id = r.id();
      d.idType = rawId instanceof Number ? "int" : rawId instanceof String ? "string" : null;
      d.category = category;
      d.system = system;
      d.sample = i;
      d.error = error;
      d.temperature = category == null ? MtBenchTemperatures.OTHER : temps.forCategory(category);
      if (error == null) {
        d.userTurns.addAll(turns);
      }
      out.add(d);
    }
    return out;
  }

  /** Step k: turn k of the question, when it has one and its turns before it succeeded. */
  static final class Planner implements DialoguePartition.Planner {
    private static final long serialVersionUID = 1L;
    private final GenerationSettings generation;

    Planner(GenerationSettings generation) {
      this.generation = generation;
    }

    @Override
    public DialoguePartition.Request plan(Dialogue d, int pass) {
      if (d.userTurns.size() < pass || d.answers.size() != pass - 1) {
        return null;
      }
      List<Map<String, Object>> messages = new ArrayList<>();
      for (int i = 0; i < pass; i++) {
        messages.add(Dialogue.message("user", d.userTurns.get(i)));
        if (i < pass - 1) {
          messages.add(Dialogue.message("assistant", d.answers.get(i)));
        }
      }
      var params = generation.resolve(Map.of("temperature", d.temperature), d.id + d.seedSalt + "#turn" + pass, d.sample);
      return new DialoguePartition.Request(pass, "answer", new ChatInput(messages, null, d.system, Map.of(), true, null, null), params);
    }

    @Override
    public void accept(Dialogue d, DialoguePartition.Request r, PreparedPrompt p, Completion c, long latencyMs) {
      // FastChat strips each answer before storing it and before putting it back into the conversation.
      String answer = Texts.pyStrip(c.text());
      d.answers.add(answer);
      d.steps.add(new Dialogue.Step(r.turn(), r.kind(), p.text(), p.tokenIds() == null ? null : p.tokenIds().length, answer,
          c.completionTokens(), c.finishReason(), latencyMs, r.params().seed(), r.params().temperature()));
    }
  }

  static Row toRow(Dialogue d, String runId, int attempt, String modelId, String fingerprint, String template) {
    List<Row> turns = new ArrayList<>();
    for (Dialogue.Step s : d.steps) {
      turns.add(RowFactory.create(s.turn(), d.userTurns.get(s.turn() - 1), s.prompt(), s.text(), s.promptTokens(),
          s.completionTokens(), s.finishReason(), s.latencyMs(), s.seed()));
    }
    boolean ok = d.error == null;
    long finished = d.finishedMillis > 0 ? d.finishedMillis : System.currentTimeMillis();
    return RowFactory.create(runId, d.id, d.idType, d.rowKey, d.inputRow, d.sample, attempt, ok ? "ok" : "error", d.error,
        d.category, d.temperature, modelId, fingerprint, template, d.engineKind, d.engineVersion, d.engineInstance,
        turns.toArray(Row[]::new), finished / 1000.0, new Timestamp(System.currentTimeMillis()));
  }

}
