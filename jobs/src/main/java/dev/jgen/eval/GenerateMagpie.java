package dev.jgen.eval;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.GenerationSettings;
import dev.jgen.engine.Completion;
import dev.jgen.input.Texts;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.InvalidRowException;
import dev.jgen.prompt.PreQuery;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.prompt.SteerLmAttributes;
import dev.jgen.spark.GenerateJob;
import java.io.PrintStream;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Instruction synthesis by the Magpie method ({@code job.kind=magpie}; Xu et al. 2024): for each input row (an
 * {@code id}, an optional {@code system} text and SteerLM attribute columns) and each of {@code generation.n} samples,
 * the model is given only its own template's pre-query prompt, the text up to where a user message's content begins
 * ({@link PreQuery}, derived from the template, never written per model), and writes the user's instruction, stopped
 * at the template's end of a user turn or its end of sequence; then the same model answers that instruction as a
 * normal turn of its template. An empty instruction, or one cut by {@code generation.max_new_tokens} before its end of
 * turn, is a row error naming why (the paper discards them); so is an empty answer.
 *
 * <p>Output: {@code instruction}, {@code messages} (user, assistant; the system text apart in {@code system}), and for
 * each of the two generations its tokens and finish reason ({@code steps} holds the prompts and seeds).
 */
public final class GenerateMagpie extends DialogueAction<GenerateMagpie, SyntheticResult> {
  public static final StructType SCHEMA = new StructType()
      .add("run_id", DataTypes.StringType, false)
      .add("id", DataTypes.StringType)
      .add("row_key", DataTypes.StringType, false)
      .add("input_row", DataTypes.LongType, false)
      .add("sample_index", DataTypes.IntegerType, false)
      .add("attempt", DataTypes.IntegerType, false)
      .add("status", DataTypes.StringType, false)
      .add("error", DataTypes.StringType)
      .add("model_id", DataTypes.StringType)
      .add("model_fingerprint", DataTypes.StringType)
      .add("template_sha256", DataTypes.StringType)
      .add("engine", DataTypes.StringType)
      .add("engine_version", DataTypes.StringType)
      .add("system", DataTypes.StringType)
      .add("attributes", dev.jgen.delta.OutputSchema.ATTRIBUTES)
      .add("instruction", DataTypes.StringType)
      .add("messages", DataTypes.createArrayType(GenerateSelfChat.MESSAGE))
      .add("instruction_prompt_tokens", DataTypes.IntegerType)
      .add("instruction_tokens", DataTypes.IntegerType)
      .add("instruction_finish_reason", DataTypes.StringType)
      .add("answer_prompt_tokens", DataTypes.IntegerType)
      .add("answer_tokens", DataTypes.IntegerType)
      .add("answer_finish_reason", DataTypes.StringType)
      .add("steps", DataTypes.createArrayType(GenerateSelfChat.STEP))
      .add("created_at", DataTypes.TimestampType, false);

  /** The table this kind writes (output.path). */
  static final dev.jgen.delta.RunTable.Spec SPEC = DialogueRun.spec(dev.jgen.delta.TableKind.MAGPIE, SCHEMA, "sample_index");


  private GenerateMagpie(SparkSession spark, GenerateJob job) {
    super(spark, job);
  }

  public static GenerateMagpie of(SparkSession spark, GenerateJob job) {
    if (!job.config().string(ConfigKeys.JOB_KIND).equals("magpie")) {
      throw new ConfigException(ConfigKeys.JOB_KIND + ": expected magpie");
    }
    check(job);
    return new GenerateMagpie(spark, job);
  }

  /**
   * The model's pre-query prompt without a system message or attributes: call before Spark starts, so a template with
   * no such prefix is a config error (exit 2) naming the model.
   *
   * @throws ConfigException naming the model and why its template has no pre-query prefix
   */
  public static PreQuery check(GenerateJob job) {
    try {
      return PromptTranslator.shared(job.prompts()).preQuery(new ChatInput(null, null, null, Map.of(), true, null, null));
    } catch (InvalidRowException e) {
      throw new ConfigException(ConfigKeys.JOB_KIND + "=magpie: " + e.getMessage() + " (template " + job.prompts().templateOrigin()
          + ")");
    }
  }

  @Override
  public SyntheticResult execute() {
    String idColumn = job.config().string(ConfigKeys.INPUT_ID_COLUMN);
    GenerationSettings generation = job.generation();
    String runId = job.runId();
    String modelId = job.model().modelId();
    String fingerprint = job.model().fingerprint();
    String template = job.prompts().templateSha256();
    String endOfTurn = check(job).endOfTurn();
    DialogueRun.Outcome o = run(new DialogueRun.Kind(SPEC) {
      @Override
      public JavaRDD<Dialogue> dialogues(JavaRDD<EvalInput.Record> input, int samples) {
        return input.flatMap(r -> inputs(r, samples).iterator());
      }

      @Override
      public DialoguePartition.Planner planner() {
        return new Planner(generation);
      }

      @Override
      public int maxSteps() {
        return 2;
      }

      @Override
      public DialoguePartition.RowMaker rows(int attempt) {
        return d -> toRow(d, runId, attempt, modelId, fingerprint, template);
      }

      @Override
      public void describeCommit(ObjectNode m) {
        m.put("magpie_end_of_turn", endOfTurn);
      }
    }, idColumn, "id");
    return new SyntheticResult("magpie", runId, o.attempt(), o.rowsIn(), o.ok(), o.error(), o.generatedNow(), o.output(),
        o.promptTokensNow(), o.completionTokensNow(), o.seconds(), o.stoppedBy());
  }

  static List<Dialogue> inputs(EvalInput.Record r, int n) {
    String error = r.error();
    Map<String, Object> f = r.fields();
    String system = null;
    Map<String, Object> attributes = new LinkedHashMap<>();
    if (error == null && f.get("system") != null) {
      if (f.get("system") instanceof String s) {
        system = s;
      } else {
        error = "system: expected a string, got " + InvalidRowException.describe(f.get("system"));
      }
    }
    if (error == null) {
      for (String name : SteerLmAttributes.NAMES) {
        if (f.get(name) != null) {
          attributes.put(name, f.get(name));
        }
      }
    }
    List<Dialogue> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Dialogue d = new Dialogue();
      d.inputRow = r.row();
      d.rowKey = r.key();
      d.id = r.id();
      d.system = system;
      d.attributes = new LinkedHashMap<>(attributes);
      d.sample = i;
      d.error = error;
      out.add(d);
    }
    return out;
  }

  /** Step 1: the instruction, from the pre-query prompt; step 2: the answer, as a normal turn of the template. */
  static final class Planner implements DialoguePartition.Planner {
    private static final long serialVersionUID = 1L;
    private final GenerationSettings generation;

    Planner(GenerationSettings generation) {
      this.generation = generation;
    }

    @Override
    public DialoguePartition.Request plan(Dialogue d, int step) {
      if (step == 1) {
        var params = generation.resolve(Map.of(), d.id + d.seedSalt + "#instruction", d.sample);
        return DialoguePartition.Request.preQuery(1, "instruction",
            new ChatInput(null, null, d.system, d.attributes, true, null, null), params);
      }
      if (step == 2 && d.userTurns.size() == 1 && d.answers.isEmpty()) {
        var params = generation.resolve(Map.of(), d.id + d.seedSalt + "#answer", d.sample);
        return new DialoguePartition.Request(1, "answer", new ChatInput(d.messages(), null, d.system, d.attributes, true, null, null),
            params);
      }
      return null;
    }

    @Override
    public void accept(Dialogue d, DialoguePartition.Request r, PreparedPrompt p, Completion c, long latencyMs) {
      String text = Texts.pyStrip(c.text());
      d.steps.add(new Dialogue.Step(r.turn(), r.kind(), p.text(), p.tokenIds() == null ? null : p.tokenIds().length, text,
          c.completionTokens(), c.finishReason(), latencyMs, r.params().seed(), r.params().temperature()));
      boolean instruction = r.kind().equals("instruction");
      if (instruction) {
        d.attributes = new LinkedHashMap<>(p.attributes()); // as the translator validated them (0-4 integers)
      }
      if (instruction && "length".equals(c.finishReason())) {
        fail(d, r, "truncated: max_new_tokens " + r.params().maxNewTokens() + " reached before the end of the user's turn");
      } else if (text.isEmpty()) {
        fail(d, r, "empty (finish_reason " + c.finishReason() + ")");
      } else if (instruction) {
        d.userTurns.add(text);
      } else {
        d.answers.add(text);
      }
    }

    @Override
    public void fail(Dialogue d, DialoguePartition.Request r, String error) {
      d.error = r.kind().equals("instruction") ? "instruction: " + error : "answer: " + error;
    }
  }

  static Row toRow(Dialogue d, String runId, int attempt, String modelId, String fingerprint, String template) {
    List<Row> messages = new ArrayList<>();
    for (Map<String, Object> m : d.messages()) {
      messages.add(RowFactory.create(m.get("role"), m.get("content")));
    }
    List<Row> steps = new ArrayList<>();
    Dialogue.Step instruction = null;
    Dialogue.Step answer = null;
    for (Dialogue.Step s : d.steps) {
      boolean user = s.kind().equals("instruction");
      if (user) {
        instruction = s;
      } else {
        answer = s;
      }
      steps.add(RowFactory.create(user ? 0 : 1, user ? "user" : "assistant", s.kind(), s.prompt(), s.promptTokens(), s.text(),
          s.completionTokens(), s.finishReason(), s.latencyMs(), s.seed(), s.temperature()));
    }
    Row attributes = null;
    if (!d.attributes.isEmpty() && instruction != null) {
      Object[] v = new Object[SteerLmAttributes.NAMES.size()];
      for (int i = 0; i < v.length; i++) {
        v[i] = d.attributes.get(SteerLmAttributes.NAMES.get(i)) instanceof Number x ? x.intValue() : null;
      }
      attributes = RowFactory.create(v);
    }
    boolean ok = d.error == null && d.answers.size() == 1;
    return RowFactory.create(runId, d.id, d.rowKey, d.inputRow, d.sample, attempt, ok ? "ok" : "error",
        ok ? null : d.error == null ? "nothing was generated" : d.error, modelId, fingerprint, template, d.engineKind,
        d.engineVersion, d.system, attributes,
        d.userTurns.isEmpty() ? null : d.userTurns.get(0), ok ? messages.toArray(Row[]::new) : null,
        instruction == null ? null : instruction.promptTokens(), instruction == null ? null : instruction.completionTokens(),
        instruction == null ? null : instruction.finishReason(), answer == null ? null : answer.promptTokens(),
        answer == null ? null : answer.completionTokens(), answer == null ? null : answer.finishReason(),
        steps.toArray(Row[]::new), new Timestamp(System.currentTimeMillis()));
  }
}
