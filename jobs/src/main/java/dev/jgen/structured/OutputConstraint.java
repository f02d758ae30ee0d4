package dev.jgen.structured;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

/**
 * What a row's output must look like: a JSON Schema, a GBNF grammar (embedded llama.cpp only) or one of a list of
 * strings. Immutable and serializable: the driver checks the job's constraint once, executors carry it to every row.
 *
 * @param kind what {@code text} holds
 * @param text the canonical text: a JSON Schema as compact JSON (whitespace, escapes and number spellings normalized;
 *     member order kept, because llama.cpp's and xgrammar's schema-to-grammar conversions generate properties in the
 *     schema's order, so a reordered schema is a different constraint), a grammar exactly as given, a choice as a
 *     compact JSON array of its strings in the given order
 * @param sha256 SHA-256 of {@code kind + "\n" + text}, hex: stored on every row as {@code constraint_sha256}
 */
public record OutputConstraint(Kind kind, String text, String sha256) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Job keys and row columns. Kept here (ConfigKeys takes them from here), so this package stands alone. */
  public static final String KEY_JSON_SCHEMA = "generation.json_schema";
  public static final String KEY_GRAMMAR = "generation.grammar";
  public static final String KEY_CHOICE = "generation.choice";
  public static final String COLUMN_JSON_SCHEMA = "json_schema";
  public static final String COLUMN_CHOICE = "choice";

  public enum Kind {
    JSON_SCHEMA("json_schema"), GRAMMAR("grammar"), CHOICE("choice");

    private final String word;

    Kind(String word) {
      this.word = word;
    }

    /** The name used in keys, columns, metadata and messages. */
    public String word() {
      return word;
    }
  }

  public OutputConstraint {
    if (kind == null || text == null) {
      throw new IllegalArgumentException("kind and text are required");
    }
    if (sha256 == null) {
      sha256 = sha256(kind.word() + "\n" + text);
    }
  }

  private OutputConstraint(Kind kind, String text) {
    this(kind, text, null);
  }

  /** The allowed strings of a {@link Kind#CHOICE} constraint. */
  public List<String> choices() {
    if (kind != Kind.CHOICE) {
      throw new IllegalStateException("not a choice constraint: " + kind.word());
    }
    List<String> out = new ArrayList<>();
    for (JsonNode n : Json.parse(text).values()) {
      out.add(n.stringValue());
    }
    return out;
  }

  /** The job key this kind of constraint is set with. */
  public String kindKey() {
    return switch (kind) {
      case JSON_SCHEMA -> KEY_JSON_SCHEMA;
      case GRAMMAR -> KEY_GRAMMAR;
      case CHOICE -> KEY_CHOICE;
    };
  }

  /** Metadata for the commit's userMetadata and the run record: kind, SHA-256 and the constraint itself. */
  public Map<String, Object> describe() {
    Object value = kind == Kind.GRAMMAR ? text : Json.toPlain(Json.parse(text));
    return Map.of("kind", kind.word(), "sha256", sha256, kind.word(), value);
  }

  // ---- job keys ---------------------------------------------------------------------------------------------------

  /**
   * The job's constraint from the raw values of {@code generation.json_schema}, {@code generation.grammar} and
   * {@code generation.choice} (null when unset), or null when none is set.
   *
   * @param jsonSchema a YAML/JSON mapping, JSON text, or {@code @path/to/schema.json} (relative to {@code baseDir})
   * @param choice a list of strings, or JSON text of one
   * @throws ConstraintException naming the key (config.GenerationSettings reports it as a ConfigException): two
   *     constraints, an invalid schema (checked against its metaschema), an empty grammar or choice
   */
  public static OutputConstraint fromConfig(Object jsonSchema, Object grammar, Object choice, Path baseDir) {
    int set = (jsonSchema != null ? 1 : 0) + (grammar != null ? 1 : 0) + (choice != null ? 1 : 0);
    if (set > 1) {
      throw new ConstraintException(KEY_JSON_SCHEMA + ", " + KEY_GRAMMAR + ", " + KEY_CHOICE
          + ": at most one output constraint per job (got " + set + ")");
    }
    if (jsonSchema != null) {
      return configSchema(jsonSchema, baseDir);
    }
    if (grammar != null) {
      if (!(grammar instanceof String g) || g.isBlank()) {
        throw new ConstraintException(KEY_GRAMMAR + ": expected GBNF text with a root rule (got " + render(grammar) + ")");
      }
      String problem = Gbnf.check(g);
      if (problem != null) {
        throw new ConstraintException(KEY_GRAMMAR + ": " + problem);
      }
      return new OutputConstraint(Kind.GRAMMAR, g);
    }
    if (choice != null) {
      try {
        return ofChoices(choiceList(choice, KEY_CHOICE));
      } catch (IllegalArgumentException e) {
        throw new ConstraintException(KEY_CHOICE + ": " + e.getMessage());
      }
    }
    return null;
  }

  private static OutputConstraint configSchema(Object raw, Path baseDir) {
    String origin = KEY_JSON_SCHEMA;
    JsonNode schema;
    if (raw instanceof Map<?, ?> m) {
      schema = Json.fromPlain(m);
    } else if (raw instanceof String s && s.startsWith("@")) {
      Path file = Path.of(s.substring(1));
      if (!file.isAbsolute() && baseDir != null) {
        file = baseDir.resolve(file);
      }
      origin = KEY_JSON_SCHEMA + " (" + file + ")";
      String text;
      try {
        text = Files.readString(file, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new ConstraintException(KEY_JSON_SCHEMA + ": cannot read " + file + ": " + e.getMessage(), e);
      }
      schema = parseOrConfigError(text, origin);
    } else if (raw instanceof String s) {
      schema = parseOrConfigError(s, origin);
    } else {
      throw new ConstraintException(KEY_JSON_SCHEMA + ": expected a mapping, JSON text or @path/to/schema.json (got "
          + render(raw) + ")");
    }
    String problem = JsonSchemas.metaschemaProblem(schema);
    if (problem != null) {
      throw new ConstraintException(origin + ": not a valid JSON Schema: " + problem);
    }
    return new OutputConstraint(Kind.JSON_SCHEMA, Json.compact(schema));
  }

  private static JsonNode parseOrConfigError(String text, String origin) {
    try {
      return Json.parse(text);
    } catch (JacksonException e) {
      throw new ConstraintException(origin + ": not valid JSON: " + Json.shortMessage(e), e);
    }
  }

  /** A choice constraint; the list must hold at least one string, each non-empty, none repeated. */
  public static OutputConstraint ofChoices(List<String> choices) {
    if (choices.isEmpty()) {
      throw new IllegalArgumentException("must list at least one allowed string (got an empty list)");
    }
    for (int i = 0; i < choices.size(); i++) {
      String c = choices.get(i);
      if (c == null || c.isEmpty()) {
        throw new IllegalArgumentException("item " + i + " is empty; every allowed output must be a non-empty string");
      }
      if (choices.subList(0, i).contains(c)) {
        throw new IllegalArgumentException("item " + i + " repeats '" + c + "'");
      }
    }
    return new OutputConstraint(Kind.CHOICE, Json.compact(Json.fromPlain(choices)));
  }

  /** A JSON Schema constraint from JSON text, checked against its metaschema. */
  public static OutputConstraint ofJsonSchema(String json) {
    JsonNode schema = Json.parse(json);
    String problem = JsonSchemas.metaschemaProblem(schema);
    if (problem != null) {
      throw new IllegalArgumentException("not a valid JSON Schema: " + problem);
    }
    return new OutputConstraint(Kind.JSON_SCHEMA, Json.compact(schema));
  }

  // ---- row columns ------------------------------------------------------------------------------------------------

  /**
   * The constraint of one row: its own {@code json_schema} or {@code choice} column when set (replacing the job's),
   * else the job's (may be null).
   *
   * @param jsonSchemaColumn the row's {@code json_schema} value (JSON text), or null
   * @param choiceColumn the row's {@code choice} value (a list of strings, or JSON text of one), or null
   * @throws ConstraintException naming the column (a run writes it as the row's error)
   */
  public static OutputConstraint forRow(OutputConstraint job, Object jsonSchemaColumn, Object choiceColumn) {
    if (jsonSchemaColumn != null && choiceColumn != null) {
      throw new ConstraintException("columns " + COLUMN_JSON_SCHEMA + " and " + COLUMN_CHOICE
          + ": at most one output constraint per row (both are set)");
    }
    if (jsonSchemaColumn != null) {
      if (!(jsonSchemaColumn instanceof String text)) {
        // Spark's JSON reader turns objects into one struct with every row's keys: a schema must travel as a string.
        throw new ConstraintException("column " + COLUMN_JSON_SCHEMA + ": expected the schema as a JSON string, got "
            + describe(jsonSchemaColumn));
      }
      return JsonSchemas.rowSchema(text);
    }
    if (choiceColumn != null) {
      try {
        return ofChoices(choiceList(choiceColumn, "column " + COLUMN_CHOICE));
      } catch (IllegalArgumentException e) {
        throw new ConstraintException("column " + COLUMN_CHOICE + ": " + e.getMessage());
      }
    }
    return job;
  }

  private static List<String> choiceList(Object raw, String what) {
    Object v = raw;
    if (v instanceof String s && s.trim().startsWith("[")) {
      try {
        v = Json.toPlain(Json.parse(s));
      } catch (JacksonException e) {
        throw new IllegalArgumentException("not a valid JSON array: " + Json.shortMessage(e));
      }
    }
    if (!(v instanceof List<?> list)) {
      throw new IllegalArgumentException("expected a list of strings, got " + render(raw));
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      if (!(list.get(i) instanceof String s)) {
        throw new IllegalArgumentException("item " + i + " is not a string (got " + render(list.get(i)) + ")");
      }
      out.add(s);
    }
    return out;
  }

  /** How a raw column value is named in a message ("a string", "a number (7)", "an array", ...). */
  private static String describe(Object v) {
    if (v == null) {
      return "null";
    }
    if (v instanceof String) {
      return "a string";
    }
    if (v instanceof Boolean) {
      return "a boolean";
    }
    if (v instanceof Number) {
      return "a number (" + v + ")";
    }
    if (v instanceof List) {
      return "an array";
    }
    if (v instanceof Map) {
      return "an object";
    }
    return v.getClass().getSimpleName();
  }

  private static String render(Object v) {
    String s = v instanceof String str ? "'" + str + "'" : String.valueOf(v);
    return s.length() > 80 ? s.substring(0, 77) + "..." : s;
  }

  static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
