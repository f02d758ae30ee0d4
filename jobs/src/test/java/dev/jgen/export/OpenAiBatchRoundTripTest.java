package dev.jgen.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An OpenAI Batch file of 100 lines, 5 of them bad, through `jgen generate` (input.format=openai-batch, the tiny model
 * on llama.cpp) and `jgen export openai-batch`: 95 results and 5 errors, each keyed by its custom_id, in OpenAI's shapes.
 */
class OpenAiBatchRoundTripTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void hundredLinesFiveBadGiveNinetyFiveResultsAndFiveErrors() throws Exception {
    List<String> lines = new ArrayList<>();
    Map<String, Integer> maxTokens = new HashMap<>();
    for (int i = 0; i < 95; i++) {
      String id = String.format("req-%03d", i);
      int max = 2 + i % 5;
      maxTokens.put(id, max);
      lines.add("{\"custom_id\": \"" + id + "\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": "
          + "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"質問 " + i + ": 日本の首都は？\"}], "
          + "\"max_tokens\": " + max + ", \"temperature\": " + (i % 2 == 0 ? "0" : "0.8") + ", \"seed\": " + i + "}}");
    }
    // The five kinds of bad line, spread through the file; expected error code and what the message must name.
    String ok = "\"body\": {\"messages\": [{\"role\": \"user\", \"content\": \"こんにちは\"}]}";
    lines.add(10, "{\"custom_id\": \"bad-json\", \"method\": \"POST\", " + ok);                                  // line 11: cut off
    lines.add(30, "{\"method\": \"POST\", \"url\": \"/v1/chat/completions\", " + ok + "}");                       // line 31
    lines.add(50, "{\"custom_id\": \"req-001\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", " + ok + "}"); // line 51
    lines.add(70, "{\"custom_id\": \"bad-url\", \"method\": \"POST\", \"url\": \"/v1/embeddings\", " + ok + "}");      // line 71
    lines.add(90, "{\"custom_id\": \"bad-body\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", "
        + "\"body\": {\"model\": \"m\", \"input\": \"embed me\"}}");                                                    // line 91
    assertEquals(100, lines.size());
    Path in = TestFiles.jsonl(dir, "batch.jsonl", lines);
    String out = dir.resolve("gen").toString();

    Cli gen = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(), "--set", "input.path=" + in,
        "--set", "input.format=openai-batch", "--set", "output.path=" + out, "--set", "job.chunk_rows=50");
    assertEquals(0, gen.code(), gen.err());
    JsonNode s = gen.summary();
    assertEquals(100, s.get("rows_in").asLong(), gen.out());
    assertEquals(95, s.get("ok").asLong(), gen.out());
    assertEquals(5, s.get("error").asLong(), gen.out());

    Path results = dir.resolve("export/results.jsonl");
    Cli exp = Cli.run("export", "openai-batch", "--output", out, "--to", results.toString());
    assertEquals(0, exp.code(), exp.err());
    List<String> resultLines = Files.readAllLines(results);
    List<String> errorLines = Files.readAllLines(dir.resolve("export/results.errors.jsonl"));
    assertEquals(95, resultLines.size());
    assertEquals(5, errorLines.size());

    // Results: one per good custom_id, in the chat.completion shape, usage consistent with the table.
    Map<String, Row> table = new HashMap<>();
    TestSpark.get().read().format("delta").load(out).where("status = 'ok'").collectAsList().forEach(r -> table.put(r.getAs("id"), r));
    Set<String> seen = new HashSet<>();
    Set<String> batchIds = new HashSet<>();
    for (String l : resultLines) {
      JsonNode r = JSON.readTree(l);
      assertEquals(Set.of("id", "custom_id", "response", "error"), fields(r));
      String id = r.get("custom_id").asText();
      assertTrue(seen.add(id), "custom_id once: " + id);
      assertTrue(batchIds.add(r.get("id").asText()) && r.get("id").asText().startsWith("batch_req_"));
      assertTrue(r.get("error").isNull());
      JsonNode resp = r.get("response");
      assertEquals(200, resp.get("status_code").asInt());
      assertFalse(resp.get("request_id").asText().isEmpty());
      JsonNode body = resp.get("body");
      assertEquals("chat.completion", body.get("object").asText());
      assertEquals("tiny-llama-ja", body.get("model").asText());
      assertTrue(body.get("created").asLong() > 1_600_000_000L);
      JsonNode choice = body.get("choices").get(0);
      assertEquals(1, body.get("choices").size());
      assertEquals(0, choice.get("index").asInt());
      assertEquals("assistant", choice.get("message").get("role").asText());
      Row row = table.get(id);
      assertNotNull(row, id);
      assertEquals(row.<String>getAs("output_text"), choice.get("message").get("content").asText());
      assertEquals(row.<String>getAs("finish_reason"), choice.get("finish_reason").asText());
      JsonNode usage = body.get("usage");
      int completion = usage.get("completion_tokens").asInt();
      assertEquals((int) row.<Integer>getAs("prompt_tokens"), usage.get("prompt_tokens").asInt());
      assertEquals((int) row.<Integer>getAs("completion_tokens"), completion);
      assertEquals(usage.get("prompt_tokens").asInt() + completion, usage.get("total_tokens").asInt());
      // The body's max_tokens and temperature were the row's parameters.
      assertTrue(completion <= maxTokens.get(id), id + ": " + completion + " > max_tokens " + maxTokens.get(id));
      Row params = row.getAs("params");
      assertEquals((int) maxTokens.get(id), (int) params.<Integer>getAs("max_new_tokens"));
      assertEquals(Integer.parseInt(id.substring(4)) % 2 == 0 ? 0.0 : 0.8, params.<Double>getAs("temperature"), 1e-9);
    }
    assertEquals(maxTokens.keySet(), seen);

    // Errors: the five bad lines, keyed by their custom_id where they had one, each naming its line and field.
    Map<String, JsonNode> errors = new HashMap<>();
    for (String l : errorLines) {
      JsonNode e = JSON.readTree(l);
      assertEquals(Set.of("id", "custom_id", "response", "error"), fields(e));
      assertTrue(e.get("response").isNull());
      assertEquals(Set.of("code", "message"), fields(e.get("error")));
      assertEquals("invalid_request", e.get("error").get("code").asText(), l);
      errors.put(e.get("custom_id").isNull() ? "(none)" : e.get("custom_id").asText(), e.get("error"));
    }
    assertEquals(Set.of("(none)", "req-001", "bad-url", "bad-body"), errors.keySet(), errorLines.toString());
    // The cut-off line has no readable custom_id and neither does the one without it: both are "(none)".
    long noId = errorLines.stream().filter(l -> l.contains("\"custom_id\":null")).count();
    assertEquals(2, noId, errorLines.toString());
    assertTrue(errorLines.stream().anyMatch(l -> l.contains("line 11: not a JSON object")), errorLines.toString());
    assertTrue(errorLines.stream().anyMatch(l -> l.contains("line 31: custom_id: missing")), errorLines.toString());
    assertTrue(errors.get("req-001").get("message").asText().contains("line 51: custom_id: 'req-001' repeats line 2"));
    assertTrue(errors.get("bad-url").get("message").asText().contains("line 71: url: expected"));
    assertTrue(errors.get("bad-body").get("message").asText().contains("line 91: body.messages: expected"));

    // Exporting twice writes the same files (ids derived from run and row).
    Path again = dir.resolve("export/again.jsonl");
    assertEquals(0, Cli.run("export", "openai-batch", "--output", out, "--to", again.toString(), "--errors",
        dir.resolve("export/again-err.jsonl").toString()).code());
    assertEquals(resultLines, Files.readAllLines(again));
    assertEquals(errorLines, Files.readAllLines(dir.resolve("export/again-err.jsonl")));
  }

  private static Set<String> fields(JsonNode n) {
    Set<String> s = new HashSet<>();
    n.fieldNames().forEachRemaining(s::add);
    return s;
  }
}
