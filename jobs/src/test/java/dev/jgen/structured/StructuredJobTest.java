package dev.jgen.structured;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.config.ConfigLoader;
import dev.jgen.spark.GenerateJob;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import io.delta.tables.DeltaTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Structured output end to end: real Spark, real Delta, real llama.cpp (json_schema and grammar) on the tiny model. */
class StructuredJobTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  /** Nested objects, enums and an integer range; strings are bounded so most rows finish well within the budget. */
  static final String SCHEMA_YAML = """
        json_schema:
          type: object
          properties:
            item:
              type: object
              properties:
                title: {type: string, minLength: 1, maxLength: 6}
                tags: {type: array, items: {enum: [赤, 青, 緑]}, minItems: 1, maxItems: 2}
              required: [title, tags]
              additionalProperties: false
            level: {enum: [easy, medium, hard]}
            score: {type: integer, minimum: 1, maximum: 5}
          required: [item, level, score]
          additionalProperties: false
      """;

  /** A job file; {@code generationExtra} holds more lines under {@code generation:}, each indented by two spaces. */
  private Path config(String name, Path input, Path out, String generationExtra) throws Exception {
    Path f = dir.resolve(name);
    Files.writeString(f, """
        input: {path: %s}
        model: {id: tiny-llama-ja}
        engine: {kind: llamacpp, parallel: 2}
        generation:
          max_new_tokens: 96
          temperature: 0.8
          seed: 7
        %s
        output: {path: %s}
        job: {chunk_rows: 100}
        """.formatted(input, generationExtra.stripTrailing(), out));
    return f;
  }

  private static List<Row> rows(Path out, String runId) {
    return TestSpark.get().read().format("delta").load(out.toString()).where("run_id = '" + runId + "'").collectAsList();
  }

  @Test
  void twoHundredRowsUnderANestedSchema() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      // Every 8th row gets a budget too small for any valid record: it must end as a truncation error.
      String budget = i % 8 == 0 ? ", \"max_new_tokens\": 4" : "";
      lines.add("{\"id\": \"q" + i + "\", \"prompt\": \"色とレベルと点数をJSONで答えてください。" + i + "\"" + budget + "}");
    }
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    Path out = dir.resolve("gen");
    Path cfg = config("job.yaml", in, out, SCHEMA_YAML);
    Cli r = Cli.run("generate", "--config", cfg.toString());
    assertEquals(0, r.code(), r.err());
    JsonNode s = r.summary();
    assertEquals(200, s.get("rows_in").asLong());
    assertEquals(200, s.get("ok").asLong() + s.get("error").asLong());

    OutputConstraint constraint = GenerateJob.prepare(ConfigLoader.load(cfg, List.of()), TestFiles.conf()).generation().constraint();
    assertNotNull(constraint);
    List<Row> rows = rows(out, s.get("run_id").asText());
    assertEquals(200, rows.size());
    int ok = 0;
    int truncated = 0;
    for (Row row : rows) {
      String id = row.getAs("id");
      String status = row.getAs("status");
      String text = row.getAs("output_text");
      assertEquals(constraint.sha256(), row.getAs("constraint_sha256"), id);
      assertNotNull(text, id);
      if (status.equals("ok")) {
        ok++;
        String json = row.getAs("output_json");
        OutputValidator.Result again = OutputValidator.validate(constraint, json, "stop");
        assertTrue(again.ok(), id + ": " + again.error());
        assertEquals(JSON.readTree(text), JSON.readTree(json), id);
        JsonNode v = JSON.readTree(json);
        int score = v.get("score").asInt();
        assertTrue(score >= 1 && score <= 5, json);
        assertTrue(List.of("easy", "medium", "hard").contains(v.get("level").asText()), json);
      } else {
        assertEquals("error", status, id);
        assertNull(row.getAs("output_json"), id);
        String error = row.getAs("error");
        assertTrue(error.startsWith("output "), id + ": " + error);
        if ("length".equals(row.getAs("finish_reason"))) {
          truncated++;
          assertTrue(error.contains("(truncated at max_new_tokens: finish_reason=length)"), id + ": " + error);
        }
      }
      if (Integer.parseInt(id.substring(1)) % 8 == 0) {
        assertEquals("error", status, id);
        assertEquals("length", row.getAs("finish_reason"), id);
      }
    }
    System.out.println("structured, 200 rows: ok " + ok + ", truncated " + truncated + ", other errors " + (200 - ok - truncated));
    assertTrue(truncated >= 25, "truncated rows: " + truncated);
    // llama.cpp honours the schema through its grammar, so nearly every row with room to finish is a valid record.
    assertTrue(ok >= 100, "ok rows: " + ok + " of 175 with room to finish");

    // Lineage: the constraint itself is in every commit's userMetadata.
    Row last = DeltaTable.forPath(TestSpark.get(), out.toString()).history(1).first();
    JsonNode meta = JSON.readTree((String) last.getAs("userMetadata"));
    assertEquals(constraint.sha256(), meta.get("output_constraint").get("sha256").asText());
    assertEquals("json_schema", meta.get("output_constraint").get("kind").asText());
    assertEquals(JSON.readTree(constraint.text()), meta.get("output_constraint").get("json_schema"));
  }

  @Test
  void rowOverridesAndTheirErrors() throws Exception {
    String schema = "{\\\"type\\\": \\\"object\\\", \\\"properties\\\": {\\\"n\\\": {\\\"type\\\": \\\"integer\\\", \\\"minimum\\\": 10, \\\"maximum\\\": 99}}, \\\"required\\\": [\\\"n\\\"], \\\"additionalProperties\\\": false}";
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      lines.add("{\"id\": \"c" + i + "\", \"prompt\": \"はいかいいえ\", \"choice\": [\"はい\", \"いいえ\", \"た\\\"ぶん\"]}");
      lines.add("{\"id\": \"s" + i + "\", \"prompt\": \"二桁の数\", \"json_schema\": \"" + schema + "\"}");
    }
    lines.add("{\"id\": \"both\", \"prompt\": \"x\", \"choice\": [\"a\"], \"json_schema\": \"{}\"}");
    lines.add("{\"id\": \"badschema\", \"prompt\": \"x\", \"json_schema\": \"{\\\"type\\\": \\\"strnig\\\"}\"}");
    lines.add("{\"id\": \"emptychoice\", \"prompt\": \"x\", \"choice\": []}");
    lines.add("{\"id\": \"plain\", \"prompt\": \"制約なし\"}");
    Path in = TestFiles.jsonl(dir, "rows.jsonl", lines);
    Path out = dir.resolve("rows-gen");
    Cli r = Cli.run("generate", "--config", config("rows.yaml", in, out, "").toString());
    assertEquals(0, r.code(), r.err());
    Map<String, Row> byId = new HashMap<>();
    rows(out, r.summary().get("run_id").asText()).forEach(row -> byId.put(row.getAs("id"), row));
    assertEquals(16, byId.size());
    OutputConstraint choice = OutputConstraint.ofChoices(List.of("はい", "いいえ", "た\"ぶん"));
    for (int i = 0; i < 6; i++) {
      Row c = byId.get("c" + i);
      // The choice travels to llama.cpp as a grammar: the output is exactly one of the strings.
      assertEquals("ok", c.getAs("status"), (String) c.getAs("error"));
      assertTrue(choice.choices().contains((String) c.getAs("output_text")), (String) c.getAs("output_text"));
      assertEquals(choice.sha256(), c.getAs("constraint_sha256"));
      assertNull(c.getAs("output_json"));
      Row s = byId.get("s" + i);
      if ("ok".equals(s.getAs("status"))) {
        int n = JSON.readTree((String) s.getAs("output_json")).get("n").asInt();
        assertTrue(n >= 10 && n <= 99, (String) s.getAs("output_json"));
      } else {
        assertTrue(((String) s.getAs("error")).startsWith("output "), (String) s.getAs("error"));
      }
      assertNotNull(s.getAs("constraint_sha256"));
      assertNotEquals(choice.sha256(), s.getAs("constraint_sha256"));
    }
    assertEquals("columns json_schema and choice: at most one output constraint per row (both are set)", byId.get("both").getAs("error"));
    assertTrue(((String) byId.get("badschema").getAs("error")).startsWith("column json_schema: not a valid JSON Schema: "),
        (String) byId.get("badschema").getAs("error"));
    assertTrue(((String) byId.get("emptychoice").getAs("error")).startsWith("column choice: must list at least one"),
        (String) byId.get("emptychoice").getAs("error"));
    Row plain = byId.get("plain");
    assertEquals("ok", plain.getAs("status"));
    assertNull(plain.getAs("constraint_sha256"));
    assertNull(plain.getAs("output_json"));
  }

  @Test
  void aTableMadeBeforeTheNewColumnsGainsThem() {
    String path = dir.resolve("old-table").toString();
    org.apache.spark.sql.types.StructType old = new org.apache.spark.sql.types.StructType();
    for (org.apache.spark.sql.types.StructField f : dev.jgen.delta.OutputSchema.SCHEMA.fields()) {
      if (!dev.jgen.delta.OutputSchema.ADDED_LATER.contains(f.name())) {
        old = old.add(f);
      }
    }
    TestSpark.get().createDataFrame(List.of(), old).write().format("delta").partitionBy("run_id").save(path);
    dev.jgen.delta.RunTable.openOrCreate(TestSpark.get(), path, dev.jgen.delta.OutputSchema.SPEC);
    List<String> columns = List.of(TestSpark.get().read().format("delta").load(path).schema().fieldNames());
    assertTrue(columns.containsAll(dev.jgen.delta.OutputSchema.ADDED_LATER), columns.toString());
  }

  @Test
  void theConstraintJoinsTheRunIdentity() throws Exception {
    Path in = TestFiles.jsonl(dir, "id.jsonl", List.of("{\"id\": \"a\", \"prompt\": \"x\"}"));
    Map<String, Object> base = new HashMap<>(Map.of("input.path", in.toString(), "model.id", "tiny-llama-ja",
        "output.path", dir.resolve("o").toString()));
    String plain = GenerateJob.prepare(ConfigLoader.fromMap(base), TestFiles.conf()).runId();
    base.put("generation.json_schema", "{\"type\": \"object\"}");
    String withSchema = GenerateJob.prepare(ConfigLoader.fromMap(base), TestFiles.conf()).runId();
    String again = GenerateJob.prepare(ConfigLoader.fromMap(base), TestFiles.conf()).runId();
    base.put("generation.json_schema", "{\"type\": \"array\"}");
    String otherSchema = GenerateJob.prepare(ConfigLoader.fromMap(base), TestFiles.conf()).runId();
    base.remove("generation.json_schema");
    base.put("generation.choice", List.of("a", "b"));
    String withChoice = GenerateJob.prepare(ConfigLoader.fromMap(base), TestFiles.conf()).runId();
    assertEquals(withSchema, again);
    assertEquals(5, new java.util.HashSet<>(List.of(plain, withSchema, otherSchema, withChoice, plain + "x")).size());
  }

  @Test
  void configErrorsStopBeforeSpark() throws Exception {
    Path in = TestFiles.jsonl(dir, "e.jsonl", List.of("{\"id\": \"a\", \"prompt\": \"x\"}"));
    Path out = dir.resolve("never");
    Cli two = Cli.run("generate", "--config", config("two.yaml", in, out, "  choice: [a, b]\n  grammar: 'root ::= \"a\"'").toString());
    assertEquals(2, two.code());
    assertTrue(two.err().contains("at most one output constraint per job"), two.err());
    Cli meta = Cli.run("generate", "--config", config("meta.yaml", in, out, "  json_schema: {type: objekt}").toString());
    assertEquals(2, meta.code());
    assertTrue(meta.err().contains("generation.json_schema: not a valid JSON Schema"), meta.err());
    Cli empty = Cli.run("generate", "--config", config("empty.yaml", in, out, "  choice: []").toString());
    assertEquals(2, empty.code());
    assertTrue(empty.err().contains("generation.choice: must list at least one"), empty.err());
    Cli server = Cli.run("generate", "--config", config("djl.yaml", in, out, "  grammar: 'root ::= \"a\"'").toString(),
        "--set", "engine.kind=djl-serving", "--set", "engine.djl.endpoints=http://127.0.0.1:9");
    assertEquals(2, server.code());
    assertTrue(server.err().contains("generation.grammar: GBNF grammars need engine.kind=llamacpp"), server.err());
    Cli vllm = Cli.run("generate", "--config", config("vllm.yaml", in, out, "  choice: [a, b]").toString(),
        "--set", "engine.kind=djl-serving", "--set", "engine.djl.endpoints=http://127.0.0.1:9", "--set", "engine.djl.server=vllm");
    assertEquals(2, vllm.code());
    assertTrue(vllm.err().contains("engine.djl.server: vllm has no /invocations API"), vllm.err());
    Cli mtbench = Cli.run("generate", "--config", config("mt.yaml", in, out, "  choice: [a, b]").toString(), "--set", "job.kind=mtbench");
    assertEquals(2, mtbench.code());
    assertTrue(mtbench.err().contains("generation.choice: output constraints apply to job.kind=generate only"), mtbench.err());
    assertTrue(!Files.exists(out), "nothing may be written on a config error");
  }
}
