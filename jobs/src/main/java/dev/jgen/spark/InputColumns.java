package dev.jgen.spark;

import dev.jgen.input.SparkValues;
import dev.jgen.config.GenerationSettings;
import dev.jgen.input.InputDedup;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.InvalidRowException;
import dev.jgen.prompt.SteerLmAttributes;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;

/**
 * The input contract, read by name from whatever schema the input has: {@code id}, {@code prompt} or
 * {@code messages}, optional {@code system}, per-row generation overrides and SteerLM attribute columns. Values of the
 * wrong type become row errors that name the column.
 */
final class InputColumns implements Serializable {
  static final String ROW = "_jgen_row";
  static final String SAMPLE = "_jgen_sample";
  static final String PRECHECK = "_jgen_precheck";
  static final String KEY = "_jgen_key";
  /** The pair's place in the attempt's order when rows are grouped by prefix ({@link PrefixGroups}). */
  static final String ORDER = "_jgen_order";
  static final String CORRUPT = "_corrupt_record";

  private final StructType schema;
  private final String idColumn;
  private final java.util.Set<String> names;

  InputColumns(StructType schema, String idColumn) {
    this.schema = schema;
    this.idColumn = idColumn;
    this.names = new java.util.HashSet<>(List.of(schema.fieldNames()));
  }

  /** The pair's place in the attempt's order ({@link PrefixGroups}), or -1 when the pairs keep input order. */
  long order(Row r) {
    return has(ORDER) ? r.getLong(r.fieldIndex(ORDER)) : -1;
  }

  long inputRow(Row r) {
    return r.getLong(r.fieldIndex(ROW));
  }

  int sample(Row r) {
    return r.getInt(r.fieldIndex(SAMPLE));
  }

  /** input.dedup: the id of the first row with the same instruction, or null. */
  String duplicateOf(Row r) {
    return has(InputDedup.COLUMN) ? (String) r.get(r.fieldIndex(InputDedup.COLUMN)) : null;
  }

  String rowKey(Row r) {
    return r.getString(r.fieldIndex(KEY));
  }

  String precheckError(Row r) {
    if (has(CORRUPT) && r.get(r.fieldIndex(CORRUPT)) != null) {
      return "input line is not a valid JSON object";
    }
    // batchio: a reader's own per-line error (input.format=openai-batch), like the precheck's.
    if (has(dev.jgen.input.OpenAiBatchInput.ERROR) && r.get(r.fieldIndex(dev.jgen.input.OpenAiBatchInput.ERROR)) != null) {
      return (String) r.get(r.fieldIndex(dev.jgen.input.OpenAiBatchInput.ERROR));
    }
    return has(PRECHECK) ? (String) r.get(r.fieldIndex(PRECHECK)) : null;
  }

  /** The id as text, or null when absent. */
  String id(Row r) {
    Object v = value(r, idColumn);
    return v == null ? null : v.toString();
  }

  @SuppressWarnings("unchecked")
  ChatInput chat(Row r) {
    Object prompt = value(r, "prompt");
    Object messages = value(r, "messages");
    Object system = value(r, "system");
    if (prompt != null && !(prompt instanceof String)) {
      throw new InvalidRowException("column prompt: expected a string, got " + InvalidRowException.describe(prompt));
    }
    if (system != null && !(system instanceof String)) {
      throw new InvalidRowException("column system: expected a string, got " + InvalidRowException.describe(system));
    }
    if (messages instanceof String text && text.trim().startsWith("[")) {
      // One row with a string in `messages` makes Spark's JSON reader type the whole column as text: read it back.
      messages = parseJsonArray(text);
    }
    if (messages != null && !(messages instanceof List)) {
      throw new InvalidRowException("column messages: expected an array of {role, content}, got " + InvalidRowException.describe(messages));
    }
    List<Map<String, Object>> msgs = null;
    if (messages != null) {
      List<Object> raw = (List<Object>) messages;
      for (int i = 0; i < raw.size(); i++) {
        if (raw.get(i) != null && !(raw.get(i) instanceof Map)) {
          throw new InvalidRowException("messages[" + i + "]: expected an object {role, content}, got " + InvalidRowException.describe(raw.get(i)));
        }
      }
      msgs = new java.util.ArrayList<>();
      for (Object m : raw) {
        msgs.add(m == null ? null : conversationOrder((Map<String, Object>) m));
      }
    }
    Map<String, Object> attrs = new LinkedHashMap<>();
    for (String a : SteerLmAttributes.NAMES) {
      Object v = value(r, a);
      if (v != null) {
        attrs.put(a, v instanceof String s ? parseNumberOrKeep(s) : v);
      }
    }
    Object agp = value(r, "add_generation_prompt");
    if (agp != null && !(agp instanceof Boolean)) {
      throw new InvalidRowException("column add_generation_prompt: expected true or false, got " + InvalidRowException.describe(agp));
    }
    Object kwargs = value(r, "chat_template_kwargs");
    if (kwargs != null && !(kwargs instanceof Map)) {
      throw new InvalidRowException("column chat_template_kwargs: expected an object, got " + InvalidRowException.describe(kwargs));
    }
    Map<String, Object> kw = null;
    if (kwargs != null) {
      // A struct column holds every row's keys; a key this row did not set is null and stays out, as with messages.
      kw = new LinkedHashMap<>((Map<String, Object>) kwargs);
      kw.values().removeIf(java.util.Objects::isNull);
    }
    return new ChatInput(msgs, (String) prompt, (String) system, attrs, agp == null || (Boolean) agp, kw, null);
  }

  /**
   * Spark's JSON reader orders a struct's fields by name; a message reads role, content, then its other keys, as
   * written by hand and by every chat API (it matters to templates that print a message whole, e.g. with tojson).
   */
  private static Map<String, Object> conversationOrder(Map<String, Object> m) {
    Map<String, Object> out = new LinkedHashMap<>();
    if (m.containsKey("role")) {
      out.put("role", m.get("role"));
    }
    if (m.containsKey("content")) {
      out.put("content", m.get("content"));
    }
    m.forEach(out::putIfAbsent);
    return out;
  }

  Map<String, Object> overrides(Row r) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (String c : GenerationSettings.ROW_OVERRIDES.keySet()) {
      Object v = value(r, c);
      if (v != null) {
        out.put(c, v);
      }
    }
    return out;
  }

  /**
   * The row's token budget, for the feeding order only: its {@code max_new_tokens} column when that holds a number, else
   * {@code jobDefault} (a malformed value is the row's error later, where its parameters are resolved).
   */
  int maxNewTokens(Row r, int jobDefault) {
    try {
      return value(r, "max_new_tokens") instanceof Number n ? (int) Math.min(Integer.MAX_VALUE, n.longValue()) : jobDefault;
    } catch (RuntimeException e) {
      return jobDefault;
    }
  }

  /** A column's value as plain Java, or null when absent (structured output, issue 13: json_schema, choice). */
  Object column(Row r, String column) {
    return value(r, column);
  }

  boolean has(String column) {
    return names.contains(column);
  }

  /** The row's {@code adapter} column (a name in model.adapters), null when absent or null. */
  Object adapter(Row r) {
    return value(r, "adapter");
  }

  /** The row's {@code adapter_scale} column, null when absent or null. */
  Object adapterScale(Row r) {
    return value(r, "adapter_scale");
  }

  private Object value(Row r, String column) {
    if (!has(column)) {
      return null;
    }
    int i = schema.fieldIndex(column);
    return SparkValues.toJava(r.get(i), schema.fields()[i].dataType());
  }

  private static Object parseJsonArray(String text) {
    try {
      return JSON.readValue(text, List.class);
    } catch (java.io.IOException e) {
      return text;
    }
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  /** JSON inference turns a column into strings when one row has text: keep numeric text usable, report the rest. */
  private static Object parseNumberOrKeep(String s) {
    try {
      return Long.parseLong(s.trim());
    } catch (NumberFormatException e) {
      return s;
    }
  }
}
