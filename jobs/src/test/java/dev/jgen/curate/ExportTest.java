package dev.jgen.curate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.curate.CurateFixtures.Cand;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/** export sft (each format) and export dpo of a curated table: what a trainer reads, and a dataset card that adds up. */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class ExportTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  /** 8 ids x 3 scored samples (scores 1 + (i + k) % 4 ... ), q07 a near duplicate of q01, q08 all errors. */
  private String curated(SparkSession spark) {
    Path gen = dir.resolve("gen");
    Path scores = dir.resolve("scores");
    List<Cand> c = new ArrayList<>();
    List<Object[]> s = new ArrayList<>();
    String q1 = CurateFixtures.instruction(1, 80);
    for (int i = 1; i <= 8; i++) {
      String id = String.format("q%02d", i);
      String text = i == 7 ? CurateFixtures.change(q1, 30) : CurateFixtures.instruction(i, 80);
      for (int k = 0; k < 3; k++) {
        boolean err = i == 8;
        c.add(new Cand(id, k, text, err ? "error" : "ok", err ? null : "回答 " + id + "/" + k));
        // q01: 9, 3, 5; q02: 5, 5, 5 (no margin); q03: 6, 5.5, 6 (margin 0.5); others: 2, 4, 8
        double[] sc = switch (i) {
          case 1 -> new double[] {9, 3, 5};
          case 2 -> new double[] {5, 5, 5};
          case 3 -> new double[] {6, 5.5, 6};
          default -> new double[] {2, 4, 8};
        };
        s.add(new Object[] {id, k, sc[k]});
      }
    }
    CurateFixtures.generations(spark, gen.toString(), "run-e", c);
    CurateFixtures.scores(spark, scores.toString(), "run-e", s);
    Path out = dir.resolve("curated");
    CurateJob.Result r = CurateJob.of(spark, CurateTest.config(out, gen, scores, "curate.best_of_n=true")).execute();
    assertEquals(24, r.candidates());
    assertEquals(1, r.dropped().get("near_duplicate"), "q07's best sample; its others are not_best_of_n");
    assertEquals(7 * 2, r.dropped().get("not_best_of_n"));
    assertEquals(3, r.dropped().get("error"));
    return out.toString();
  }

  @Test
  void sftLinesAlternateAndEndWithTheAssistantAndTheCardAddsUp() throws Exception {
    SparkSession spark = TestSpark.get();
    String table = curated(spark);
    for (String format : List.of("messages", "sharegpt", "alpaca")) {
      Path to = dir.resolve("sft-" + format);
      Cli r = Cli.run("export", "sft", "--output", table, "--to", to.toString(), "--format", format, "--parquet");
      assertEquals(0, r.code(), r.err());
      List<String> lines = Files.readAllLines(to.resolve("train.jsonl"));
      assertEquals(6, lines.size(), format + ": one per kept id (best of n), not q07 (near duplicate) nor q08 (errors)");
      for (String line : lines) {
        JsonNode o = JSON.readTree(line);
        switch (format) {
          case "messages" -> alternates(o.get("messages"), "role", "user", "assistant");
          case "sharegpt" -> alternates(o.get("conversations"), "from", "human", "gpt");
          default -> {
            assertTrue(o.get("instruction").asText().endsWith("してください。"), line);
            assertTrue(o.get("output").asText().startsWith("回答 "), line);
            assertEquals("", o.get("input").asText());
          }
        }
      }
      assertEquals(6, spark.read().parquet(to.resolve("train.parquet").toString()).count());
      Map<String, Object> card = card(to);
      assertEquals(List.of("ja"), card.get("language"));
      assertEquals(List.of("n<1K"), card.get("size_categories"));
      assertEquals(lines.size(), splitSize(card));
      String body = Files.readString(to.resolve("README.md"));
      assertTrue(body.contains("| kept | 6 |") && body.contains("| dropped: near_duplicate | 1 |") && body.contains("| candidates in | 24 |")
          && body.contains("`tiny-ja`, fingerprint `sha256:feedbeef`") && body.contains("run `run-e`, config hash `cfg-run-e`"), body);
    }
  }

  @Test
  void dpoPairsTheHighestAgainstTheLowestScoreAboveTheMargin() throws Exception {
    SparkSession spark = TestSpark.get();
    String table = curated(spark);
    for (double margin : new double[] {1.0, 0.5}) {
      Path to = dir.resolve("dpo-" + margin);
      Cli r = Cli.run("export", "dpo", "--output", table, "--to", to.toString(), "--min-margin", String.valueOf(margin));
      assertEquals(0, r.code(), r.err());
      List<String> lines = Files.readAllLines(to.resolve("train.jsonl"));
      // q01 (9 vs 3), q04-q06 (8 vs 2); q03 (6 vs 5.5) only at margin 0.5; q02 never; q07 (duplicate), q08 (errors) never
      assertEquals(margin == 1.0 ? 4 : 5, lines.size(), r.out());
      for (String line : lines) {
        JsonNode o = JSON.readTree(line);
        assertTrue(o.get("score_chosen").asDouble() - o.get("score_rejected").asDouble() >= margin, line);
        assertEquals("user", o.get("prompt").get(o.get("prompt").size() - 1).get("role").asText());
        assertEquals("assistant", o.get("chosen").get(0).get("role").asText());
        assertEquals("assistant", o.get("rejected").get(0).get("role").asText());
        assertTrue(!o.get("chosen").equals(o.get("rejected")), line);
      }
      JsonNode first = JSON.readTree(lines.get(0));
      assertEquals("回答 q01/0", first.get("chosen").get(0).get("content").asText());
      assertEquals("回答 q01/1", first.get("rejected").get(0).get("content").asText());
      assertEquals(lines.size(), splitSize(card(to)));
    }
  }

  private static void alternates(JsonNode msgs, String key, String user, String assistant) {
    assertTrue(msgs.size() >= 2, msgs.toString());
    for (int i = 0; i < msgs.size(); i++) {
      assertEquals(i % 2 == 0 ? user : assistant, msgs.get(i).get(key).asText(), msgs.toString());
    }
    assertEquals(assistant, msgs.get(msgs.size() - 1).get(key).asText());
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> card(Path to) throws Exception {
    String text = Files.readString(to.resolve("README.md"));
    assertTrue(text.startsWith("---\n"), text);
    String front = text.substring(4, text.indexOf("\n---\n", 4));
    Map<String, Object> y = new Yaml().load(front);
    List<Map<String, Object>> configs = (List<Map<String, Object>>) y.get("configs");
    assertEquals("default", configs.get(0).get("config_name"));
    assertEquals(List.of(Map.of("split", "train", "path", "train.jsonl")), configs.get(0).get("data_files"));
    assertTrue(((Map<String, Object>) y.get("dataset_info")).containsKey("features"));
    return y;
  }

  @SuppressWarnings("unchecked")
  private static long splitSize(Map<String, Object> card) {
    Map<String, Object> info = (Map<String, Object>) card.get("dataset_info");
    return ((Number) ((List<Map<String, Object>>) info.get("splits")).get(0).get("num_examples")).longValue();
  }
}
