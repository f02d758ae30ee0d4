package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 10,000 input lines mixing every kind of bad row (broken UTF-16, 1 MB prompts, nested nulls, wrong types, broken
 * JSON, repeated and missing ids) through the whole pipeline, with a zero-cost engine: the right counts and messages.
 */
class BadInputAtVolumeTest {
  @TempDir Path dir;

  private static final String MB = "あ".repeat((1 << 20) / 3);

  @Test
  void tenThousandMixedRows() {
    List<String> lines = new ArrayList<>();
    Map<String, Integer> expected = new TreeMap<>();
    int ok = 0;
    for (int i = 0; i < 10_000; i++) {
      String id = "\"id\": \"r" + i + "\"";
      switch (i % 10) {
        case 0 -> { lines.add("{" + id + ", \"prompt\": \"質問 " + i + "\"}"); ok++; }
        case 1 -> { lines.add("{\"prompt\": \"no id\"}"); expected.merge("missing or empty id", 1, Integer::sum); }
        case 2 -> { lines.add("{\"id\": \"r" + (i - 2) + "\", \"prompt\": \"again\"}"); expected.merge("duplicate id", 1, Integer::sum); }
        case 3 -> { lines.add("{" + id + ", \"prompt\": null}"); expected.merge("neither prompt nor messages is set", 1, Integer::sum); }
        // A JSON-escaped lone surrogate: Spark keeps strings as UTF-8, so its reader turns it into '?' (checked below).
        case 4 -> { lines.add("{" + id + ", \"prompt\": \"壊れた\\ud800文字\"}"); ok++; }
        case 5 -> {
          if (i % 1000 == 5) {
            lines.add("{" + id + ", \"prompt\": \"" + MB + "\"}");
            expected.merge("the context of", 1, Integer::sum);
          } else {
            lines.add("{" + id + ", \"messages\": [{\"role\": \"user\", \"content\": \"会話 " + i + "\"}]}");
            ok++;
          }
        }
        case 6 -> {
          lines.add(i % 20 == 6 ? "{" + id + ", \"messages\": [null]}" : "{" + id + ", \"messages\": [{\"role\": null, \"content\": \"x\"}]}");
          expected.merge(i % 20 == 6 ? "messages[0] is null" : "messages[0] has no role", 1, Integer::sum);
        }
        case 7 -> { lines.add("{" + id + ", \"prompt\": \"x\", \"temperature\": \"hot\"}"); expected.merge("column temperature", 1, Integer::sum); }
        case 8 -> { lines.add("{" + id + ", \"messages\": \"not a list\"}"); expected.merge("column messages", 1, Integer::sum); }
        default -> { lines.add("{" + id + ", \"prompt\": \"broken"); expected.merge("not a valid JSON object", 1, Integer::sum); }
      }
    }
    Path in = TestFiles.jsonl(dir, "mixed.jsonl", lines);
    String out = dir.resolve("gen").toString();
    Cli r = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(), "--set", "input.path=" + in,
        "--set", "output.path=" + out, "--set", "engine.kind=echo", "--set", "job.chunk_rows=5000", "--set", "generation.max_new_tokens=8");
    assertEquals(0, r.code(), r.err());
    JsonNode s = r.summary();
    assertEquals(10_000, s.get("rows_in").asLong());
    assertEquals(ok, s.get("ok").asLong());
    assertEquals(10_000 - ok, s.get("error").asLong());
    List<Row> errors = TestSpark.get().read().format("delta").load(out).where("status = 'error'").select("error").collectAsList();
    Map<String, Integer> seen = new TreeMap<>();
    for (Row e : errors) {
      String msg = e.getString(0);
      String kind = expected.keySet().stream().filter(msg::contains).findFirst().orElse("UNEXPECTED: " + msg);
      seen.merge(kind, 1, Integer::sum);
    }
    assertEquals(expected, seen);
    assertTrue(TestSpark.get().read().format("delta").load(out).count() == 10_000, "one output row per input line");
    Row broken = TestSpark.get().read().format("delta").load(out).where("id = 'r4'").first();
    assertEquals("ok", broken.getAs("status"));
    assertTrue(broken.<String>getAs("prompt").contains("壊れた?文字"), broken.<String>getAs("prompt"));
  }
}
