package dev.jgen.structured;

import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

/**
 * JSON Schema through com.networknt:json-schema-validator: metaschema checks of a constraint, and compiled schemas,
 * cached per JVM by the constraint's SHA-256 (a job has one schema; per-row schemas repeat too). The default loader reads
 * the bundled metaschemas and never fetches anything from the network.
 */
final class JsonSchemas {
  /** Draft 2020-12 unless the schema names another dialect with {@code $schema}. */
  static final SpecificationVersion DEFAULT_DIALECT = SpecificationVersion.DRAFT_2020_12;
  private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(DEFAULT_DIALECT);
  private static final int CACHE_LIMIT = 1024;
  private static final Map<String, Schema> COMPILED = new ConcurrentHashMap<>();
  private static final Map<String, OutputConstraint> ROW_SCHEMAS = new ConcurrentHashMap<>();

  private JsonSchemas() {}

  /** Null when {@code schema} is a valid JSON Schema object for its dialect, else the first problem found. */
  static String metaschemaProblem(JsonNode schema) {
    if (!schema.isObject()) {
      return "expected a JSON object at the top (got " + schema.getNodeType().name().toLowerCase() + ")";
    }
    String dialect = DEFAULT_DIALECT.getDialectId();
    JsonNode declared = schema.get("$schema");
    if (declared != null) {
      Optional<SpecificationVersion> v = declared.isString() ? SpecificationVersion.fromDialectId(declared.stringValue())
          : Optional.empty();
      if (v.isEmpty()) {
        return "$schema " + declared + " is not a dialect this validator knows (draft-04, -06, -07, 2019-09, 2020-12)";
      }
      dialect = v.get().getDialectId();
    }
    List<Error> errors;
    try {
      errors = REGISTRY.getSchema(SchemaLocation.of(dialect)).validate(schema);
    } catch (RuntimeException e) {
      return "cannot check it against the " + dialect + " metaschema: " + e.getMessage();
    }
    if (!errors.isEmpty()) {
      return describe(errors.get(0)) + " (checked against the metaschema " + dialect + ")";
    }
    try {
      compile(schema);
    } catch (RuntimeException e) {
      return e.getMessage();
    }
    return null;
  }

  /** The compiled schema of a {@link OutputConstraint.Kind#JSON_SCHEMA} constraint. */
  static Schema compiled(OutputConstraint c) {
    Schema s = COMPILED.get(c.sha256());
    if (s == null) {
      if (COMPILED.size() >= CACHE_LIMIT) {
        COMPILED.clear();
      }
      s = compile(Json.parse(c.text()));
      COMPILED.put(c.sha256(), s);
    }
    return s;
  }

  private static Schema compile(JsonNode schema) {
    Schema s = REGISTRY.getSchema(schema);
    // $ref targets resolve lazily: initialize now so an unresolvable reference is a schema error, not an output error.
    s.initializeValidators();
    return s;
  }

  /** A row's {@code json_schema} column, parsed and checked once per distinct text. */
  static OutputConstraint rowSchema(String text) {
    OutputConstraint c = ROW_SCHEMAS.get(text);
    if (c != null) {
      return c;
    }
    JsonNode schema;
    try {
      schema = Json.parse(text);
    } catch (JacksonException e) {
      throw new ConstraintException("column " + OutputConstraint.COLUMN_JSON_SCHEMA + ": not valid JSON: " + Json.shortMessage(e));
    }
    String problem = metaschemaProblem(schema);
    if (problem != null) {
      throw new ConstraintException("column " + OutputConstraint.COLUMN_JSON_SCHEMA + ": not a valid JSON Schema: " + problem);
    }
    c = new OutputConstraint(OutputConstraint.Kind.JSON_SCHEMA, Json.compact(schema), null);
    if (ROW_SCHEMAS.size() >= CACHE_LIMIT) {
      ROW_SCHEMAS.clear();
    }
    ROW_SCHEMAS.put(text, c);
    return c;
  }

  /** "at /a/b: message" for one validation error. */
  static String describe(Error e) {
    String where = e.getInstanceLocation() == null ? "" : e.getInstanceLocation().toString();
    String msg = e.getMessage();
    return (where.isEmpty() || where.equals("$") ? "at the top" : "at " + where) + ": " + msg;
  }
}
