package dev.jgen.eval;

import dev.jgen.input.Texts;
import dev.jgen.prompt.InvalidRowException;
import static org.apache.spark.sql.functions.col;
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
 * Synthetic dialogues ({@code job.kind=selfchat}): from each row's seed instruction ({@code prompt}, optional
 * {@code system}), the model answers; then the same model, given a second prompt (the user simulator:
 * {@code selfchat.user_prompt} with the dialogue so far), writes the user's next turn; and so on until the dialogue has
 * {@code selfchat.turns} answers. Every prompt is rendered with the model's chat template. Each row of the output
 * table holds the whole conversation as {@code messages} (user and assistant alternating, starting with the seed and
 * ending with an answer; the system text apart in {@code system}), ready for SFT, and {@code steps}: every generation
 * with its rendered prompt, tokens, finish reason and seed.
 *
 * <p>The user prompt may contain {@code {dialogue}}, replaced by the dialogue so far ("ユーザー: …" / "アシスタント: …"
 * lines); without it the dialogue is appended after a blank line. The simulator's output is stripped, and a leading
 * "ユーザー:" label dropped; an empty follow-up fails the row.
 */
public final class GenerateSelfChat extends DialogueAction<GenerateSelfChat, SelfChatResult> {
  public static final String DEFAULT_USER_PROMPT = "以下はユーザーとAIアシスタントの対話です。あなたはこのユーザーになりきって、"
      + "対話の流れに沿った次の質問や依頼を一つだけ書いてください。前置きや説明は書かず、ユーザーの発言だけを出力してください。\n\n"
      + "{dialogue}";

  public static final StructType MESSAGE = new StructType()
      .add("role", DataTypes.StringType)
      .add("content", DataTypes.StringType);

  public static final StructType STEP = new StructType()
      .add("message_index", DataTypes.IntegerType)
      .add("role", DataTypes.StringType)
      // answer: the model as assistant | user_simulator: the model writing the user's next turn
      .add("kind", DataTypes.StringType)
      .add("prompt", DataTypes.StringType)
      .add("prompt_tokens", DataTypes.IntegerType)
      .add("text", DataTypes.StringType)
      .add("completion_tokens", DataTypes.IntegerType)
      .add("finish_reason", DataTypes.StringType)
      .add("latency_ms", DataTypes.LongType)
      .add("seed", DataTypes.LongType)
      .add("temperature", DataTypes.DoubleType);

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
      .add("messages", DataTypes.createArrayType(MESSAGE))
      .add("answers", DataTypes.IntegerType)
      .add("steps", DataTypes.createArrayType(STEP))
      .add("user_prompt_sha256", DataTypes.StringType)
      .add("created_at", DataTypes.TimestampType, false);

  /** The table this kind writes (output.path). */
  static final dev.jgen.delta.RunTable.Spec SPEC = DialogueRun.spec(dev.jgen.delta.TableKind.SELFCHAT, SCHEMA, "sample_index");



  private GenerateSelfChat(SparkSession spark, GenerateJob job) {
    super(spark, job);
    if (job.engine() == null) {
      throw new ConfigException(ConfigKeys.ENGINE_KIND + ": none cannot run self-chat (each turn needs the previous one's "
          + "text); set it to llamacpp or djl-serving");
    }
  }

  public static GenerateSelfChat of(SparkSession spark, GenerateJob job) {
    return new GenerateSelfChat(spark, job);
  }

  static String userPrompt(JobConfig config) {
    return config.isSet(ConfigKeys.SELFCHAT_USER_PROMPT) ? config.string(ConfigKeys.SELFCHAT_USER_PROMPT) : DEFAULT_USER_PROMPT;
  }

  @Override
  public SelfChatResult execute() {
    JobConfig config = job.config();
    int turns = config.integer(ConfigKeys.SELFCHAT_TURNS);
    String idColumn = config.string(ConfigKeys.INPUT_ID_COLUMN);
    String userPrompt = userPrompt(config);
    String userPromptSha = dev.jgen.prompt.PromptSpecs.sha256(userPrompt.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    GenerationSettings generation = job.generation();
    String runId = job.runId();
    String modelId = job.model().modelId();
    String fingerprint = job.model().fingerprint();
    String template = job.prompts().templateSha256();
    DialogueRun.Outcome o = run(new DialogueRun.Kind(SPEC) {
      @Override
      public JavaRDD<Dialogue> dialogues(JavaRDD<EvalInput.Record> input, int samples) {
        return input.flatMap(r -> seeds(r, samples).iterator());
      }

      @Override
      public DialoguePartition.Planner planner() {
        return new Planner(generation, userPrompt);
      }

      @Override
      public int maxSteps() {
        return 2 * turns - 1; // answer, follow-up, answer, ...: the last step is an answer
      }

      @Override
      public DialoguePartition.RowMaker rows(int attempt) {
        return d -> toRow(d, runId, attempt, modelId, fingerprint, template, userPromptSha);
      }

      @Override
      public void describeCommit(ObjectNode o) {
        o.put("selfchat_turns", turns);
        o.put("user_prompt_sha256", userPromptSha);
      }
    }, idColumn, "id");
    return new SelfChatResult(runId, o.attempt(), o.rowsIn(), o.ok(), o.error(), o.generatedNow(), turns, o.output(),
        o.completionTokensNow(), o.seconds(), o.stoppedBy());
  }

  static List<Dialogue> seeds(EvalInput.Record r, int n) {
    String error = r.error();
    Map<String, Object> f = r.fields();
    String prompt = null;
    String system = null;
    if (error == null) {
      Object p = f.get("prompt");
      if (p == null) {
        error = f.get("messages") != null ? "self-chat starts from a seed instruction in column prompt; messages is not supported"
            : "prompt: missing";
      } else if (!(p instanceof String s)) {
        error = "prompt: expected a string, got " + InvalidRowException.describe(p);
      } else if (s.isBlank()) {
        error = "prompt is empty";
      } else {
        prompt = s;
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
    for (int i = 0; i < n; i++) {
      Dialogue d = new Dialogue();
      d.inputRow = r.row();
      d.rowKey = r.key();
      d.id = r.id();
      d.system = system;
      d.sample = i;
      d.error = error;
      if (prompt != null) {
        d.userTurns.add(prompt);
      }
      out.add(d);
    }
    return out;
  }

  /** Odd passes: the model answers the last user turn; even passes: the model, as the user simulator, writes the next. */
  static final class Planner implements DialoguePartition.Planner {
    private static final long serialVersionUID = 1L;
    private final GenerationSettings generation;
    private final String userPrompt;

    Planner(GenerationSettings generation, String userPrompt) {
      this.generation = generation;
      this.userPrompt = userPrompt;
    }

    @Override
    public DialoguePartition.Request plan(Dialogue d, int pass) {
      int round = (pass + 1) / 2;
      if (pass % 2 == 1) {
        if (d.userTurns.size() != round || d.answers.size() != round - 1) {
          return null;
        }
        var params = generation.resolve(Map.of(), d.id + d.seedSalt + "#answer" + round, d.sample);
        return new DialoguePartition.Request(round, "answer", new ChatInput(d.messages(), null, d.system, Map.of(), true, null, null), params);
      }
      if (d.userTurns.size() != round || d.answers.size() != round) {
        return null;
      }
      var params = generation.resolve(Map.of(), d.id + d.seedSalt + "#user" + (round + 1), d.sample);
      return new DialoguePartition.Request(round + 1, "user_simulator", ChatInput.ofPrompt(simulatorPrompt(d)), params);
    }

    String simulatorPrompt(Dialogue d) {
      StringBuilder dialogue = new StringBuilder();
      for (Map<String, Object> m : d.messages()) {
        if (dialogue.length() > 0) {
          dialogue.append('\n');
        }
        dialogue.append("user".equals(m.get("role")) ? "ユーザー: " : "アシスタント: ").append(m.get("content"));
      }
      return userPrompt.contains("{dialogue}") ? userPrompt.replace("{dialogue}", dialogue)
          : userPrompt + "\n\n" + dialogue;
    }

    @Override
    public void accept(Dialogue d, DialoguePartition.Request r, PreparedPrompt p, Completion c, long latencyMs) {
      String text = Texts.pyStrip(c.text());
      boolean user = r.kind().equals("user_simulator");
      if (user) {
        text = Texts.pyStrip(text.replaceFirst("^(ユーザー|User|user)\\s*[:：]", ""));
      }
      d.steps.add(new Dialogue.Step(r.turn(), r.kind(), p.text(), p.tokenIds() == null ? null : p.tokenIds().length, text,
          c.completionTokens(), c.finishReason(), latencyMs, r.params().seed(), r.params().temperature()));
      if (text.isEmpty()) {
        fail(d, r, (user ? "the user simulator" : "the model") + " generated empty text (finish_reason "
            + c.finishReason() + ")");
        return;
      }
      if (user) {
        d.userTurns.add(text);
      } else {
        d.answers.add(text);
      }
    }
  }

  static Row toRow(Dialogue d, String runId, int attempt, String modelId, String fingerprint, String template, String userPromptSha) {
    List<Row> messages = new ArrayList<>();
    for (Map<String, Object> m : d.messages()) {
      messages.add(RowFactory.create(m.get("role"), m.get("content")));
    }
    List<Row> steps = new ArrayList<>();
    for (Dialogue.Step s : d.steps) {
      boolean user = s.kind().equals("user_simulator");
      // The message a step produced: answer k is message 2k-1, the follow-up user turn k is message 2k-2 (0-based).
      int index = user ? 2 * s.turn() - 2 : 2 * s.turn() - 1;
      steps.add(RowFactory.create(index, user ? "user" : "assistant", s.kind(), s.prompt(), s.promptTokens(), s.text(),
          s.completionTokens(), s.finishReason(), s.latencyMs(), s.seed(), s.temperature()));
    }
    boolean ok = d.error == null;
    return RowFactory.create(runId, d.id, d.rowKey, d.inputRow, d.sample, attempt, ok ? "ok" : "error", d.error, modelId,
        fingerprint, template, d.engineKind, d.engineVersion, d.system, messages.toArray(Row[]::new), d.answers.size(),
        steps.toArray(Row[]::new), userPromptSha, new Timestamp(System.currentTimeMillis()));
  }

}
