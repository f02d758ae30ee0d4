package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.testing.Cli;
import dev.jgen.testing.GoldenCases;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The golden renders through the job itself (dry run, engine.kind=none): the prompt column is byte-identical to
 * transformers' output. Cases the job's input contract cannot express are left to `jgen render`: tool lists, an
 * empty conversation (a row error in the job), explicit nulls inside messages (the job leaves null keys out), and
 * attributes that are not integers 0-4 (a row error in the job, checked here).
 */
class GoldenRendersJobTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  /** Non-integer attributes inside messages (the golden K70-attr-types case) are row errors in the job. */
  private void checkAttributeTypesAreRowErrors() {
    JsonNode c = GoldenCases.all().stream().filter(x -> x.get("id").asText().equals("K70-attr-types")).findFirst().orElseThrow();
    ObjectNode row = JSON.createObjectNode();
    row.put("id", "types");
    row.set("messages", c.get("messages"));
    Path in = TestFiles.jsonl(dir, "types.jsonl", List.of(row.toString()));
    String out = dir.resolve("out-types").toString();
    Cli r = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(), "--set", "input.path=" + in,
        "--set", "model.path=" + GoldenCases.modelDir(c, dir), "--set", "engine.kind=none", "--set", "output.path=" + out);
    assertEquals(1, r.summary().get("error").asLong(), r.out());
    Row got = TestSpark.get().read().format("delta").load(out).first();
    // Spark orders the struct's fields by name, so coherence ('2', a string) is the first one reported.
    assertEquals("messages[0].coherence: '2' is not an integer 0-4", got.getAs("error"));
  }

  @Test
  void goldenCasesThroughTheJob() {
    Map<String, List<JsonNode>> byTemplate = new LinkedHashMap<>();
    for (JsonNode c : GoldenCases.all()) {
      // The model templates through the job; the inline Jinja-semantics cases (one template each) stay with `render`.
      boolean expressible = c.hasNonNull("model") && !c.hasNonNull("tools") && c.get("messages").size() > 0 && !c.get("messages").toString().contains(":null")
          && !c.get("id").asText().equals("K70-attr-types");
      if (expressible) {
        byTemplate.computeIfAbsent(GoldenCases.modelDir(c, dir.resolve("models")).toString(), k -> new ArrayList<>()).add(c);
      }
    }
    int checked = 0;
    for (Map.Entry<String, List<JsonNode>> e : byTemplate.entrySet()) {
      List<String> lines = new ArrayList<>();
      for (JsonNode c : e.getValue()) {
        ObjectNode row = JSON.createObjectNode();
        row.put("id", c.get("id").asText());
        row.set("messages", c.get("messages"));
        row.put("add_generation_prompt", c.path("add_generation_prompt").asBoolean(false));
        if (c.hasNonNull("kwargs") && c.get("kwargs").size() > 0) {
          row.set("chat_template_kwargs", c.get("kwargs"));
        }
        lines.add(row.toString());
      }
      String name = Path.of(e.getKey()).getFileName().toString();
      Path in = TestFiles.jsonl(dir, name + ".jsonl", lines);
      String out = dir.resolve("out-" + name).toString();
      Cli r = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
          "--set", "input.path=" + in, "--set", "model.id=", "--set", "model.path=" + e.getKey(), "--set", "engine.kind=none",
          "--set", "prompt.special_tokens_in_content=allow", "--set", "output.path=" + out);
      assertEquals(0, r.code(), r.err());
      Map<String, Row> rows = new LinkedHashMap<>();
      TestSpark.get().read().format("delta").load(out).collectAsList().forEach(x -> rows.put(x.getAs("id"), x));
      for (JsonNode c : e.getValue()) {
        Row row = rows.get(c.get("id").asText());
        if (c.has("expected_error")) {
          assertEquals("error", row.getAs("status"));
          assertEquals("chat template: " + c.get("expected_error").asText(), row.getAs("error"), c.get("id").asText());
        } else {
          assertEquals("ok", row.getAs("status"), c.get("id") + ": " + row.getAs("error"));
          assertEquals(c.get("expected").asText(), row.getAs("prompt"), c.get("id").asText());
        }
        checked++;
      }
    }
    assertTrue(checked >= 20, "golden cases checked through the job: " + checked);
    checkAttributeTypesAreRowErrors();
    System.out.println("golden renders through the job: " + checked + " byte-identical or failing as expected");
  }
}
