package dev.jgen.eval;

import dev.jgen.input.InputDedup;
import dev.jgen.input.AttributeSweep;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InputDedupTest {
  @TempDir Path dir;

  @Test
  void identicalInstructionsAfterNfkcAndWhitespaceFolding() {
    Path in = TestFiles.jsonl(dir, "in.jsonl", List.of(
        "{\"id\": \"a\", \"prompt\": \"東京の人口は？\"}",
        "{\"id\": \"b\", \"prompt\": \"  東京の人口は？\\n\"}",
        "{\"id\": \"c\", \"prompt\": \"ＡＢＣ　とは\"}",
        "{\"id\": \"d\", \"prompt\": \"ABC とは\"}",
        "{\"id\": \"e\", \"messages\": [{\"role\": \"user\", \"content\": \"東京の 人口は？\"}]}",
        "{\"id\": \"f\", \"messages\": [{\"role\": \"user\", \"content\": \"東京の人口は？\"}]}",
        "{\"id\": \"g\", \"prompt\": \"東京の人口は？\", \"system\": \"簡潔に\"}",
        "{\"id\": \"h\", \"prompt\": \"東京の人口は？\", \"verbosity\": 0}",
        "{\"id\": \"i\", \"prompt\": \"東京の人口は？\", \"verbosity\": 0}",
        "{\"id\": \"j\", \"prompt\": \"\"}",
        "{\"id\": \"k\", \"prompt\": \"\"}"));
    Map<String, String> dup = new HashMap<>();
    for (Row r : InputDedup.mark(TestSpark.get().read().json(in.toString()), "id").collectAsList()) {
      dup.put(r.getAs("id"), r.getAs(InputDedup.COLUMN));
    }
    assertEquals(11, dup.size());
    assertNull(dup.get("a"));
    assertEquals("a", dup.get("b"), "whitespace folded and trimmed");
    assertNull(dup.get("c"));
    assertEquals("c", dup.get("d"), "NFKC: full-width letters and the ideographic space");
    assertNull(dup.get("e"), "a space inside the text is not folded away");
    assertEquals("a", dup.get("f"), "a prompt is a one-message conversation");
    assertNull(dup.get("g"), "another system text is another instruction");
    assertNull(dup.get("h"), "other attributes, another prompt");
    assertEquals("h", dup.get("i"));
    assertNull(dup.get("j"), "rows without text are never marked");
    assertNull(dup.get("k"));
  }

  @Test
  void afterASweepEachVariantPointsAtTheSameVariantOfTheOriginal() {
    Path in = TestFiles.jsonl(dir, "sweep.jsonl", List.of(
        "{\"id\": \"a\", \"prompt\": \"猫とは\"}",
        "{\"id\": \"b\", \"prompt\": \"猫とは \"}"));
    // The order GenerateAction uses: expand (order kept), number the rows, then mark by that numbering.
    var expanded = AttributeSweep.expand(TestSpark.get().read().json(in.toString()), Map.of("verbosity", List.of(0, 4)), "id")
        .withColumn("_jgen_row", org.apache.spark.sql.functions.monotonically_increasing_id());
    Map<String, String> dup = new HashMap<>();
    for (Row r : InputDedup.mark(expanded, "id").collectAsList()) {
      dup.put(r.getAs("id"), r.getAs(InputDedup.COLUMN));
    }
    assertEquals(4, dup.size());
    assertNull(dup.get("a|verbosity=0"));
    assertNull(dup.get("a|verbosity=4"));
    assertEquals("a|verbosity=0", dup.get("b|verbosity=0"));
    assertEquals("a|verbosity=4", dup.get("b|verbosity=4"));
  }
}
