package dev.jgen.eval;

import dev.jgen.input.AttributeSweep;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.config.ConfigException;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.spark.GenerateAction;
import dev.jgen.spark.GenerateResult;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestModels;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** attributes.sweep: config checks before Spark, and the cross product through the real generate job. */
class AttributeSweepTest {
  @TempDir Path dir;

  private static final PromptSpec KARAKURI = TestModels.spec("karakuri-lm-70b-chat-v0.1", false, "reject");

  private static Map<String, Object> sweep(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private static String error(Map<String, Object> sweep, PromptSpec spec) {
    return assertThrows(ConfigException.class, () -> AttributeSweep.validate(sweep, spec)).getMessage();
  }

  @Test
  void configErrorsBeforeSpark() {
    assertEquals("attributes.sweep.funniness: not a SteerLM attribute; must be one of helpfulness | correctness | coherence | "
        + "complexity | verbosity | quality | toxicity | humor | creativity", error(sweep("funniness", List.of(0, 4)), KARAKURI));
    assertEquals("attributes.sweep.verbosity: 5 is not an integer 0-4", error(sweep("verbosity", List.of(0, 5)), KARAKURI));
    assertEquals("attributes.sweep.humor: -1 is not an integer 0-4", error(sweep("humor", List.of(-1)), KARAKURI));
    assertEquals("attributes.sweep.humor: 1.5 is not an integer 0-4", error(sweep("humor", List.of(1.5)), KARAKURI));
    assertEquals("attributes.sweep.humor: 'high' is not an integer 0-4", error(sweep("humor", "high"), KARAKURI));
    assertEquals("attributes.sweep.humor: no values; give a list of integers 0-4, e.g. [0, 2, 4]", error(sweep("humor", List.of()), KARAKURI));
    assertEquals("attributes.sweep.humor: 4 is listed twice", error(sweep("humor", List.of(4, 4)), KARAKURI));
    String ignored = error(sweep("verbosity", List.of(0, 4)), TestModels.spec("llm-jp-3-1.8b-instruct", false, "reject"));
    assertTrue(ignored.startsWith("attributes.sweep: model llm-jp-3-1.8b-instruct's chat template ignores SteerLM attributes"), ignored);
    // Accepted forms, in canonical order whatever the config's order (--set gives text).
    assertEquals(Map.of("verbosity", List.of(0, 2, 4), "humor", List.of(0, 4)),
        AttributeSweep.validate(sweep("humor", "0,4", "verbosity", List.of(0, 2, 4)), KARAKURI));
    assertEquals(List.of("verbosity", "humor"),
        List.copyOf(AttributeSweep.validate(sweep("humor", "[0, 4]", "verbosity", 2), KARAKURI).keySet()));
  }

  @Test
  void threeByTwoSweepGivesSixRowsPerPromptWithDistinctAttributeBlocks() {
    Path in = TestFiles.jsonl(dir, "prompts.jsonl", List.of(
        "{\"id\": \"p1\", \"prompt\": \"猫について短く説明してください。\"}",
        "{\"id\": \"p2\", \"prompt\": \"今日の天気を一言で。\", \"verbosity\": 1}"));
    Map<String, List<Integer>> sw = AttributeSweep.validate(sweep("verbosity", List.of(0, 2, 4), "humor", List.of(0, 4)), KARAKURI);
    Dataset<Row> expanded = AttributeSweep.expand(TestSpark.get().read().json(in.toString()), sw, "id");
    List<Row> rows = expanded.collectAsList();
    assertEquals(12, rows.size());
    assertEquals("p1|verbosity=0,humor=0", rows.get(0).getAs("id"));
    assertEquals("p1|verbosity=0,humor=4", rows.get(1).getAs("id"));
    assertEquals("p2|verbosity=4,humor=4", rows.get(11).getAs("id"));
    assertEquals("verbosity=4,humor=4", rows.get(11).getAs(AttributeSweep.VARIANT_COLUMN));
    assertEquals(12, expanded.select("id").distinct().count());

    // Through the real generate job (render and tokenize only: the prompts are the point).
    Path parquet = dir.resolve("expanded.parquet");
    expanded.write().parquet(parquet.toString());
    Map<String, Object> s = EvalTesting.settings("karakuri-lm-70b-chat-v0.1", parquet, dir.resolve("gen"));
    s.put("engine.kind", "none");
    GenerateResult r = GenerateAction.of(TestSpark.get(), EvalTesting.job(s)).progress(null, java.time.Duration.ofSeconds(60)).execute();
    assertEquals(12, r.rowsIn());
    assertEquals(12, r.ok());
    Pattern attr = Pattern.compile("\\[ATTR\\] (.*?) \\[/ATTR\\]");
    Map<String, Set<String>> blocks = new LinkedHashMap<>();
    Set<Long> seeds = new HashSet<>();
    for (Row row : TestSpark.get().read().format("delta").load(dir.resolve("gen").toString()).collectAsList()) {
      String id = row.getAs("id");
      String prompt = row.getAs("prompt");
      Matcher m = attr.matcher(prompt);
      assertTrue(m.find(), prompt);
      String block = m.group(1);
      String variant = id.substring(id.indexOf('|') + 1);
      String verbosity = variant.replaceAll("verbosity=(\\d),humor=(\\d)", "$1");
      String humor = variant.replaceAll("verbosity=(\\d),humor=(\\d)", "$2");
      assertTrue(block.contains("verbosity: " + verbosity + " ") && block.contains("humor: " + humor + " "), id + ": " + block);
      Row attrs = row.getAs("attributes");
      assertEquals(Integer.parseInt(verbosity), (Integer) attrs.getAs("verbosity"));
      assertEquals(Integer.parseInt(humor), (Integer) attrs.getAs("humor"));
      blocks.computeIfAbsent(id.substring(0, id.indexOf('|')), k -> new HashSet<>()).add(block);
      seeds.add(row.getAs("seed"));
    }
    assertEquals(Map.of("p1", 6, "p2", 6), Map.of("p1", blocks.get("p1").size(), "p2", blocks.get("p2").size()),
        "6 distinct attribute blocks per prompt");
    assertEquals(12, seeds.size(), "each variant has its own seed");
  }
}
