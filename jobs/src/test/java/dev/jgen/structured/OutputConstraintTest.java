package dev.jgen.structured;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Parsing and checking of the three constraint keys and the two row columns, with the real JSON Schema library. */
class OutputConstraintTest {
  @TempDir Path dir;

  static final String QA_SCHEMA = """
      {"type": "object",
       "properties": {"question": {"type": "string", "minLength": 1},
                      "answer": {"type": "string"},
                      "difficulty": {"type": "integer", "minimum": 1, "maximum": 5}},
       "required": ["question", "answer", "difficulty"], "additionalProperties": false}
      """;

  private static Map<String, Object> qaSchemaAsYamlMap() {
    // The same schema as a YAML mapping would load it, keys in another order.
    Map<String, Object> difficulty = new LinkedHashMap<>();
    difficulty.put("maximum", 5);
    difficulty.put("minimum", 1);
    difficulty.put("type", "integer");
    Map<String, Object> props = new LinkedHashMap<>();
    props.put("answer", Map.of("type", "string"));
    props.put("difficulty", difficulty);
    Map<String, Object> question = new LinkedHashMap<>();
    question.put("type", "string");
    question.put("minLength", 1);
    props.put("question", question);
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("additionalProperties", false);
    s.put("required", List.of("question", "answer", "difficulty"));
    s.put("properties", props);
    s.put("type", "object");
    return s;
  }

  @Test
  void inlineMapAndJsonTextAreTheSameCanonicalSchema() {
    OutputConstraint fromMap = OutputConstraint.fromConfig(qaSchemaAsYamlMap(), null, null, dir);
    OutputConstraint fromText = OutputConstraint.fromConfig("""
        { "additionalProperties" : false, "required": ["question", "answer", "difficulty"],
          "properties": {"answer": {"type": "string"}, "difficulty": {"maximum": 5, "minimum": 1, "type": "integer"},
                         "question": {"type": "string", "minLength": 1}},
          "type": "object" }
        """, null, null, dir);
    assertEquals(OutputConstraint.Kind.JSON_SCHEMA, fromMap.kind());
    assertEquals(fromText.text(), fromMap.text());
    assertEquals(fromText.sha256(), fromMap.sha256());
    assertTrue(fromMap.text().startsWith("{\"additionalProperties\":false,\"required\":[\"question\","), fromMap.text());
    assertEquals(64, fromMap.sha256().length());
    // Whitespace does not matter; member order does (engines generate properties in the schema's order).
    assertEquals(OutputConstraint.fromConfig(QA_SCHEMA, null, null, dir),
        OutputConstraint.fromConfig(QA_SCHEMA.replace("\n", "\n\t  ").replace(": ", ":"), null, null, dir));
    OutputConstraint ordered = OutputConstraint.fromConfig(QA_SCHEMA, null, null, dir);
    assertTrue(ordered.text().startsWith("{\"type\":\"object\",\"properties\":{\"question\":"), ordered.text());
    assertNotEquals(ordered.sha256(), fromMap.sha256());
  }

  @Test
  void schemaFromFileRelativeToTheConfigDirectory() throws Exception {
    Files.createDirectories(dir.resolve("schemas"));
    Files.writeString(dir.resolve("schemas/qa.json"), QA_SCHEMA);
    OutputConstraint c = OutputConstraint.fromConfig("@schemas/qa.json", null, null, dir);
    assertEquals(OutputConstraint.fromConfig(QA_SCHEMA, null, null, dir), c);
    ConstraintException missing = assertThrows(ConstraintException.class,
        () -> OutputConstraint.fromConfig("@schemas/nope.json", null, null, dir));
    assertTrue(missing.getMessage().startsWith("generation.json_schema: cannot read "), missing.getMessage());
  }

  @Test
  void aDifferentSchemaHasADifferentHash() {
    String other = QA_SCHEMA.replace("\"maximum\": 5", "\"maximum\": 4");
    assertNotEquals(OutputConstraint.fromConfig(QA_SCHEMA, null, null, dir).sha256(),
        OutputConstraint.fromConfig(other, null, null, dir).sha256());
  }

  @Test
  void schemasThatBreakTheMetaschemaAreConfigErrors() {
    for (String bad : List.of(
        "{\"type\": \"strnig\"}",
        "{\"type\": \"object\", \"required\": \"question\"}",
        "{\"type\": \"integer\", \"minimum\": \"1\"}",
        "{\"properties\": {\"a\": {\"enum\": 3}}}")) {
      ConstraintException e = assertThrows(ConstraintException.class, () -> OutputConstraint.fromConfig(bad, null, null, dir), bad);
      assertTrue(e.getMessage().startsWith("generation.json_schema: not a valid JSON Schema: "), e.getMessage());
      assertTrue(e.getMessage().contains("metaschema https://json-schema.org/draft/2020-12/schema"), e.getMessage());
    }
    ConstraintException notJson = assertThrows(ConstraintException.class, () -> OutputConstraint.fromConfig("{\"type\": ", null, null, dir));
    assertTrue(notJson.getMessage().startsWith("generation.json_schema: not valid JSON: "), notJson.getMessage());
    ConstraintException array = assertThrows(ConstraintException.class, () -> OutputConstraint.fromConfig("[1]", null, null, dir));
    assertTrue(array.getMessage().contains("expected a JSON object at the top"), array.getMessage());
    ConstraintException badRef = assertThrows(ConstraintException.class,
        () -> OutputConstraint.fromConfig("{\"$ref\": \"#/$defs/missing\"}", null, null, dir));
    assertTrue(badRef.getMessage().startsWith("generation.json_schema: not a valid JSON Schema"), badRef.getMessage());
  }

  @Test
  void anOlderDialectIsCheckedAgainstItsOwnMetaschema() {
    // Draft-07 allows a boolean exclusiveMaximum? No: there it must be a number, while draft-04 wants a boolean.
    String draft4 = "{\"$schema\": \"http://json-schema.org/draft-04/schema#\", \"maximum\": 5, \"exclusiveMaximum\": true}";
    OutputConstraint.fromConfig(draft4, null, null, dir);
    String draft7 = draft4.replace("draft-04", "draft-07");
    ConstraintException e = assertThrows(ConstraintException.class, () -> OutputConstraint.fromConfig(draft7, null, null, dir));
    assertTrue(e.getMessage().contains("draft-07"), e.getMessage());
    ConstraintException unknown = assertThrows(ConstraintException.class,
        () -> OutputConstraint.fromConfig("{\"$schema\": \"https://example.com/mine\"}", null, null, dir));
    assertTrue(unknown.getMessage().contains("not a dialect this validator knows"), unknown.getMessage());
  }

  @Test
  void atMostOneConstraintPerJob() {
    ConstraintException e = assertThrows(ConstraintException.class,
        () -> OutputConstraint.fromConfig(QA_SCHEMA, null, List.of("a"), dir));
    assertEquals("generation.json_schema, generation.grammar, generation.choice: at most one output constraint per job (got 2)",
        e.getMessage());
    assertNull(OutputConstraint.fromConfig(null, null, null, dir));
  }

  @Test
  void choiceKeyChecks() {
    OutputConstraint c = OutputConstraint.fromConfig(null, null, List.of("はい", "いいえ"), dir);
    assertEquals(List.of("はい", "いいえ"), c.choices());
    assertEquals("[\"はい\",\"いいえ\"]", c.text());
    // --set generation.choice='["a","b"]' arrives as text.
    assertEquals(List.of("a", "b"), OutputConstraint.fromConfig(null, null, "[\"a\",\"b\"]", dir).choices());
    for (Object bad : List.of(List.of(), List.of("a", ""), List.of("a", "a"), List.of(1, 2), "a,b")) {
      ConstraintException e = assertThrows(ConstraintException.class, () -> OutputConstraint.fromConfig(null, null, bad, dir), bad.toString());
      assertTrue(e.getMessage().startsWith("generation.choice: "), e.getMessage());
    }
    assertTrue(assertThrows(ConstraintException.class, () -> OutputConstraint.fromConfig(null, null, List.of(), dir))
        .getMessage().contains("at least one"));
  }

  @Test
  void grammarKeyChecks() {
    OutputConstraint g = OutputConstraint.fromConfig(null, "root ::= \"yes\" | \"no\"\n", null, dir);
    assertEquals(OutputConstraint.Kind.GRAMMAR, g.kind());
    assertEquals("root ::= \"yes\" | \"no\"\n", g.text());
    ConstraintException noRoot = assertThrows(ConstraintException.class,
        () -> OutputConstraint.fromConfig(null, "answer ::= \"yes\"", null, dir));
    assertTrue(noRoot.getMessage().startsWith("generation.grammar: the grammar has no root rule"), noRoot.getMessage());
    assertThrows(ConstraintException.class, () -> OutputConstraint.fromConfig(null, "  ", null, dir));
  }

  @Test
  void rowColumnsOverrideTheJobConstraint() {
    OutputConstraint job = OutputConstraint.fromConfig(QA_SCHEMA, null, null, dir);
    assertSame(job, OutputConstraint.forRow(job, null, null));
    OutputConstraint rowSchema = OutputConstraint.forRow(job, "{\"type\": \"array\", \"items\": {\"type\": \"integer\"}}", null);
    assertEquals("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}", rowSchema.text());
    OutputConstraint rowChoice = OutputConstraint.forRow(job, null, List.of("A", "B"));
    assertEquals(List.of("A", "B"), rowChoice.choices());
    // Spark's JSON reader may hand an array column over as text when rows disagree on its type.
    assertEquals(List.of("A", "B"), OutputConstraint.forRow(null, null, "[\"A\", \"B\"]").choices());
  }

  @Test
  void rowColumnProblemsAreRowErrorsNamingTheColumn() {
    ConstraintException both = assertThrows(ConstraintException.class,
        () -> OutputConstraint.forRow(null, "{\"type\": \"string\"}", List.of("a")));
    assertEquals("columns json_schema and choice: at most one output constraint per row (both are set)", both.getMessage());
    ConstraintException notJson = assertThrows(ConstraintException.class, () -> OutputConstraint.forRow(null, "{oops", null));
    assertTrue(notJson.getMessage().startsWith("column json_schema: not valid JSON: "), notJson.getMessage());
    ConstraintException notSchema = assertThrows(ConstraintException.class,
        () -> OutputConstraint.forRow(null, "{\"type\": 5}", null));
    assertTrue(notSchema.getMessage().startsWith("column json_schema: not a valid JSON Schema: "), notSchema.getMessage());
    ConstraintException struct = assertThrows(ConstraintException.class,
        () -> OutputConstraint.forRow(null, Map.of("type", "string"), null));
    assertTrue(struct.getMessage().startsWith("column json_schema: expected the schema as a JSON string"), struct.getMessage());
    ConstraintException empty = assertThrows(ConstraintException.class, () -> OutputConstraint.forRow(null, null, List.of()));
    assertTrue(empty.getMessage().startsWith("column choice: must list at least one"), empty.getMessage());
    ConstraintException notList = assertThrows(ConstraintException.class, () -> OutputConstraint.forRow(null, null, 3L));
    assertTrue(notList.getMessage().startsWith("column choice: expected a list of strings"), notList.getMessage());
  }

  @Test
  void survivesJavaSerializationAsSparkShipsIt() throws Exception {
    OutputConstraint c = OutputConstraint.fromConfig(QA_SCHEMA, null, null, dir);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(c);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      assertEquals(c, in.readObject());
    }
  }

  @Test
  void describeCarriesTheConstraintForTheCommitMetadata() {
    OutputConstraint c = OutputConstraint.fromConfig(null, null, List.of("a", "b"), dir);
    Map<String, Object> d = c.describe();
    assertEquals("choice", d.get("kind"));
    assertEquals(c.sha256(), d.get("sha256"));
    assertEquals(List.of("a", "b"), d.get("choice"));
  }
}
