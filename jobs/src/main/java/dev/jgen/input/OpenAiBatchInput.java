package dev.jgen.input;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * {@code input.format=openai-batch}: reads an OpenAI Batch input file (JSONL, one chat-completions request a line:
 * {@code {"custom_id": …, "method": "POST", "url": "/v1/chat/completions", "body": {"model": …, "messages": […], …}}},
 * the shape of OpenAI's Batch API and of {@code vllm run-batch}'s {@code BatchRequestInput}) into jgen's ordinary input
 * rows: {@code id} (the custom_id), {@code messages} (array of {role, content}), the per-row sampling columns, and
 * {@link #ERROR}, non-null on a line that cannot be a request, with a message naming the line and the field.
 *
 * <p>The body's messages are rendered by jgen with the model's own chat template like any other conversation; nothing
 * is sent to a chat endpoint. A line is never dropped (a bad line is a row with an error), except blank lines, which
 * Spark's JSON reader skips for jgen's own format too. Line numbers count from 1 over the lines of {@code path} (for
 * a folder: its files in name order, as Spark lists them).
 *
 * <p>Body fields (OpenAI's chat-completions request; see docs/batchio.md for the table):
 * <ul>
 *   <li>{@code messages} (required): {role, content}; content is a string or an array of {@code {"type": "text"}} parts,
 *       joined with a newline; other part types, tool calls, {@code name} and other message keys are refused.</li>
 *   <li>{@code max_completion_tokens} or its older name {@code max_tokens} (equal if both) -> {@code max_new_tokens};
 *       {@code temperature}, {@code top_p}, {@code seed}; vLLM's extensions {@code top_k}, {@code repetition_penalty}.</li>
 *   <li>{@code model} and {@code user} are read and not used: the run's model generates (one model per run).</li>
 *   <li>Accepted only at their neutral value: {@code n} 1 (jgen's {@code generation.n} is per job), {@code stream} false,
 *       {@code logprobs} false, {@code frequency_penalty} and {@code presence_penalty} 0; {@code stop} is refused
 *       (stop strings are per job: {@code generation.stop}).</li>
 *   <li>Any other field is an error naming it (OpenAI's API answers an unknown argument with 400 as well): a field
 *       that would change the answer is never ignored silently.</li>
 * </ul>
 */
public final class OpenAiBatchInput {
  /** The column holding a line's error, null on a good line. */
  public static final String ERROR = "_jgen_input_error";
  public static final String URL = "/v1/chat/completions";

  /** The rows' schema: jgen's input columns. */
  public static final StructType SCHEMA = new StructType()
      .add("id", DataTypes.StringType)
      .add("messages", DataTypes.createArrayType(new StructType()
          .add("role", DataTypes.StringType)
          .add("content", DataTypes.StringType)))
      .add("max_new_tokens", DataTypes.IntegerType)
      .add("temperature", DataTypes.DoubleType)
      .add("top_p", DataTypes.DoubleType)
      .add("top_k", DataTypes.IntegerType)
      .add("repetition_penalty", DataTypes.DoubleType)
      .add("seed", DataTypes.LongType)
      .add(ERROR, DataTypes.StringType);

  private static final String LINE = "_jgen_line";
  private static final String FIRST = "_jgen_first_line";
  private static final Set<String> TOP_LEVEL = Set.of("custom_id", "method", "url", "body");
  private static final Set<String> IGNORED = Set.of("model", "user");
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

  private OpenAiBatchInput() {}

  /** Reads the file (or folder of files) at {@code path}: one row a non-blank line, in line order. */
  public static Dataset<Row> read(SparkSession spark, String path) {
    JavaRDD<Row> parsed = spark.read().textFile(path).javaRDD().zipWithIndex()
        .filter(t -> !t._1().isBlank())
        .map(t -> {
          Object[] v = parse(t._1(), t._2() + 1);
          Object[] withLine = java.util.Arrays.copyOf(v, v.length + 1);
          withLine[v.length] = t._2() + 1;
          return RowFactory.create(withLine);
        });
    Dataset<Row> rows = spark.createDataFrame(parsed, SCHEMA.add(LINE, DataTypes.LongType, false));
    // A repeated custom_id: the first line keeps it, every later one is an error naming the first (outputs are keyed on
    // custom_id, so two requests with one id could not be told apart).
    Column id = col("id");
    Column first = min(col(LINE)).over(Window.partitionBy(id));
    Column repeated = id.isNotNull().and(col(ERROR).isNull()).and(col(FIRST).notEqual(col(LINE)));
    return rows
        .withColumn(FIRST, when(id.isNotNull().and(col(ERROR).isNull()), first))
        .withColumn(ERROR, when(repeated, concat(lit("line "), col(LINE).cast("string"), lit(": custom_id: '"), id,
            lit("' repeats line "), col(FIRST).cast("string"), lit(" (custom_id must be unique in a batch)")))
            .otherwise(col(ERROR)))
        .orderBy(col(LINE))
        .drop(FIRST, LINE);
  }

  /** One line as the values of {@link #SCHEMA}, in order. Never throws: problems go into the error column. */
  static Object[] parse(String text, long line) {
    Object[] v = new Object[SCHEMA.size()];
    List<String> problems = new ArrayList<>();
    JsonNode root;
    try {
      root = JSON.readTree(line == 1 && text.startsWith("\uFEFF") ? text.substring(1) : text);
    } catch (JsonProcessingException e) {
      v[8] = "line " + line + ": not a JSON object (" + e.getOriginalMessage() + ")";
      return v;
    }
    if (root == null || !root.isObject()) {
      v[8] = "line " + line + ": not a JSON object (a " + kind(root) + ")";
      return v;
    }
    JsonNode customId = root.get("custom_id");
    if (customId == null || customId.isNull()) {
      problems.add("custom_id: missing (every request needs a unique custom_id)");
    } else if (!customId.isTextual() || customId.asText().isBlank()) {
      problems.add("custom_id: expected a non-empty string, got " + describe(customId));
    } else {
      v[0] = customId.asText();
    }
    JsonNode method = root.get("method");
    if (method == null || !method.isTextual() || !method.asText().equals("POST")) {
      problems.add("method: expected \"POST\", got " + describe(method));
    }
    JsonNode url = root.get("url");
    if (url == null || !url.isTextual() || !url.asText().equals(URL)) {
      problems.add("url: expected \"" + URL + "\" (jgen runs chat completions only), got " + describe(url));
    }
    for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!TOP_LEVEL.contains(f)) {
        problems.add(f + ": unknown field of a batch request line (expected custom_id, method, url, body)");
      }
    }
    JsonNode body = root.get("body");
    if (body == null || !body.isObject()) {
      problems.add("body: expected a chat completions request object, got " + describe(body));
    } else {
      body(body, v, problems);
    }
    if (!problems.isEmpty()) {
      v[8] = "line " + line + ": " + String.join("; ", problems);
      // A bad line generates nothing: its parameters and messages would only confuse a reader of the row.
      for (int i = 1; i < 8; i++) {
        v[i] = null;
      }
    }
    return v;
  }

  private static void body(JsonNode body, Object[] v, List<String> problems) {
    JsonNode messages = body.get("messages");
    if (messages == null || !messages.isArray() || messages.isEmpty()) {
      problems.add("body.messages: expected a non-empty array of {role, content}, got " + describe(messages)
          + " (a chat completions request needs messages)");
    } else {
      List<Row> msgs = new ArrayList<>();
      for (int i = 0; i < messages.size(); i++) {
        Row m = message(messages.get(i), "body.messages[" + i + "]", problems);
        msgs.add(m);
      }
      v[1] = msgs.toArray();
    }
    Long maxTokens = integer(body, "max_tokens", 1, Integer.MAX_VALUE, problems);
    Long maxCompletion = integer(body, "max_completion_tokens", 1, Integer.MAX_VALUE, problems);
    if (maxTokens != null && maxCompletion != null && !maxTokens.equals(maxCompletion)) {
      problems.add("body.max_tokens (" + maxTokens + ") and body.max_completion_tokens (" + maxCompletion
          + ") differ: give one of them");
    }
    Long max = maxCompletion != null ? maxCompletion : maxTokens;
    v[2] = max == null ? null : (Object) max.intValue();
    // Ranges are checked where every input's overrides are (the run's row checks), with the same messages.
    v[3] = number(body, "temperature", problems);
    v[4] = number(body, "top_p", problems);
    Long topK = integer(body, "top_k", Integer.MIN_VALUE, Integer.MAX_VALUE, problems);
    v[5] = topK == null ? null : (Object) topK.intValue();
    v[6] = number(body, "repetition_penalty", problems);
    v[7] = integer(body, "seed", Long.MIN_VALUE, Long.MAX_VALUE, problems);
    for (Iterator<Map.Entry<String, JsonNode>> it = body.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String f = e.getKey();
      JsonNode x = e.getValue();
      switch (f) {
        case "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "repetition_penalty",
            "seed" -> { }
        case "n" -> {
          if (!x.isNull() && !(x.canConvertToExactIntegral() && x.asLong() == 1)) {
            problems.add("body.n: only 1 is supported per request, got " + describe(x)
                + " (samples per prompt are per job: generation.n)");
          }
        }
        case "stream", "logprobs" -> {
          if (!x.isNull() && !(x.isBoolean() && !x.asBoolean())) {
            problems.add("body." + f + ": only false is supported, got " + describe(x));
          }
        }
        case "frequency_penalty", "presence_penalty" -> {
          if (!x.isNull() && !(x.isNumber() && x.asDouble() == 0.0)) {
            problems.add("body." + f + ": not supported (only 0), got " + describe(x) + " (see repetition_penalty)");
          }
        }
        case "stop" -> {
          boolean empty = x.isNull() || (x.isArray() && x.isEmpty());
          if (!empty) {
            problems.add("body.stop: per-request stop strings are not supported, got " + describe(x)
                + " (stop strings are per job: generation.stop)");
          }
        }
        default -> {
          if (!IGNORED.contains(f)) {
            problems.add("body." + f + ": unknown or unsupported chat completions field (jgen reads messages, "
                + "max_tokens/max_completion_tokens, temperature, top_p, seed, top_k, repetition_penalty)");
          }
        }
      }
    }
  }

  private static Row message(JsonNode m, String where, List<String> problems) {
    if (m == null || !m.isObject()) {
      problems.add(where + ": expected an object {role, content}, got " + describe(m));
      return null;
    }
    JsonNode role = m.get("role");
    if (role == null || !role.isTextual() || role.asText().isBlank()) {
      problems.add(where + ".role: expected a string, got " + describe(role));
    }
    JsonNode content = m.get("content");
    String text = null;
    if (content == null || content.isNull()) {
      problems.add(where + ".content: missing (tool calls and empty assistant turns are not supported)");
    } else if (content.isTextual()) {
      text = content.asText();
    } else if (content.isArray()) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < content.size(); i++) {
        JsonNode part = content.get(i);
        JsonNode type = part == null ? null : part.get("type");
        JsonNode t = part == null ? null : part.get("text");
        if (type == null || !"text".equals(type.asText()) || t == null || !t.isTextual()) {
          problems.add(where + ".content[" + i + "]: only {\"type\": \"text\", \"text\": …} parts are supported, got "
              + describe(part));
        } else {
          sb.append(i > 0 ? "\n" : "").append(t.asText());
        }
      }
      text = sb.toString();
    } else {
      problems.add(where + ".content: expected a string or an array of text parts, got " + describe(content));
    }
    for (Iterator<String> it = m.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!f.equals("role") && !f.equals("content")) {
        problems.add(where + "." + f + ": not supported (jgen renders role and content with the model's template)");
      }
    }
    return RowFactory.create(role != null && role.isTextual() ? role.asText() : null, text);
  }

  private static Long integer(JsonNode body, String field, long lo, long hi, List<String> problems) {
    JsonNode x = body.get(field);
    if (x == null || x.isNull()) {
      return null;
    }
    if (!x.isNumber() || !x.canConvertToExactIntegral() || !x.canConvertToLong() || x.asLong() < lo || x.asLong() > hi) {
      problems.add("body." + field + ": expected an integer" + (lo == 1 ? " >= 1" : "") + ", got " + describe(x));
      return null;
    }
    return x.asLong();
  }

  private static Double number(JsonNode body, String field, List<String> problems) {
    JsonNode x = body.get(field);
    if (x == null || x.isNull()) {
      return null;
    }
    if (!x.isNumber()) {
      problems.add("body." + field + ": expected a number, got " + describe(x));
      return null;
    }
    return x.asDouble();
  }

  private static String kind(JsonNode x) {
    if (x == null || x.isMissingNode()) {
      return "nothing";
    }
    return x.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
  }

  /** A value for a message: its JSON, cut short. */
  private static String describe(JsonNode x) {
    if (x == null || x.isMissingNode()) {
      return "nothing";
    }
    String s = x.toString();
    return s.length() > 60 ? s.substring(0, 57) + "..." : s;
  }
}
