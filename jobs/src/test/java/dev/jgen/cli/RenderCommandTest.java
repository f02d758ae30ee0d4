package dev.jgen.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.testing.Cli;
import dev.jgen.testing.GoldenCases;
import dev.jgen.testing.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jgen render} on every golden case: byte-identical prompts, or the expected error. */
class RenderCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void everyGoldenCaseRendersExactly() throws IOException {
    int passed = 0;
    List<JsonNode> cases = GoldenCases.all();
    for (JsonNode c : cases) {
      ObjectNode line = JSON.createObjectNode();
      line.put("id", c.get("id").asText());
      line.set("messages", c.get("messages"));
      line.put("add_generation_prompt", c.path("add_generation_prompt").asBoolean(false));
      if (c.has("kwargs")) {
        line.set("kwargs", c.get("kwargs"));
      }
      if (c.hasNonNull("tools")) {
        line.set("tools", c.get("tools"));
      }
      Path in = TestFiles.jsonl(dir, c.get("id").asText() + ".jsonl", List.of(line.toString()));
      Path out = dir.resolve(c.get("id").asText() + ".out.jsonl");
      Cli r = Cli.run("render", "--model-dir", GoldenCases.modelDir(c, dir.resolve("models")).toString(),
          "--in", in.toString(), "--out", out.toString());
      assertEquals(0, r.code(), r.err());
      JsonNode got = JSON.readTree(Files.readAllLines(out).get(0));
      assertEquals(c.get("id").asText(), got.get("id").asText());
      if (c.has("expected_error")) {
        assertEquals("chat template: " + c.get("expected_error").asText(), got.get("error").asText(), c.get("id").asText());
      } else {
        assertTrue(got.get("error").isNull(), c.get("id") + ": " + got.get("error"));
        assertEquals(c.get("expected").asText(), got.get("prompt").asText(), c.get("id").asText());
      }
      passed++;
    }
    assertEquals(cases.size(), passed);
    System.out.println("golden renders through `jgen render`: " + passed + "/" + cases.size());
  }

  @Test
  void catalogModelWithTokenizerGivesTokenIdsAndBadLinesGiveErrorLines() throws IOException {
    Path in = TestFiles.jsonl(dir, "in.jsonl", List.of(
        "{\"id\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"こんにちは\"}], \"add_generation_prompt\": true}",
        "{\"id\": \"b\", \"messages\": \"not a list\"}",
        "not json",
        "{\"id\": \"c\", \"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}]}"));
    Path out = dir.resolve("out.jsonl");
    Cli r = Cli.run("render", "--model", "tiny-llama-ja", "--in", in.toString(), "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    List<String> lines = Files.readAllLines(out);
    assertEquals(4, lines.size(), "one output line per input line");
    JsonNode a = JSON.readTree(lines.get(0));
    assertEquals("<s>\n\n### 指示:\nこんにちは\n\n### 応答:\n", a.get("prompt").asText());
    assertEquals(1, a.get("token_ids").get(0).asInt());
    assertTrue(a.get("error").isNull());
    assertEquals("line 2: messages must be an array", JSON.readTree(lines.get(1)).get("error").asText());
    assertEquals("line 3 is not a JSON object", JSON.readTree(lines.get(2)).get("error").asText());
    assertTrue(JSON.readTree(lines.get(3)).get("error").isNull(), "llm-jp's template accepts two user turns");
    assertTrue(r.err().contains("rendered 4 lines") && r.err().contains("2 ok, 2 error"), r.err());
  }

  @Test
  void unknownModelAndMissingFileAreConfigErrors() {
    Cli r = Cli.run("render", "--model", "no-such-model", "--in", "x.jsonl", "--out", "y.jsonl");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--in: no such file") || r.err().contains("unknown model 'no-such-model'"), r.err());
    r = Cli.run("render", "--model", "no-such-model", "--in", TestFiles.conf().resolve("data/demo-prompts.jsonl").toString(),
        "--out", dir.resolve("o.jsonl").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("model.id: unknown model 'no-such-model'; the catalog has: "), r.err());
  }
}
