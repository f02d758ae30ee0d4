package dev.jgen.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** docs/benchmarks.md's tables are BenchTables' rendering of the records in docs/bench/, and every record is shown. */
class BenchTablesTest {
  private static Path root() {
    return Files.isDirectory(Path.of("..", BenchTables.RECORDS)) ? Path.of("..") : Path.of(".");
  }

  @Test
  void theCommittedTablesAreTheRenderedOnes() throws Exception {
    String page = Files.readString(root().resolve(BenchTables.PAGE), StandardCharsets.UTF_8);
    assertEquals(BenchTables.regenerate(page, root().resolve(BenchTables.RECORDS)), page,
        BenchTables.PAGE + " differs from the records in " + BenchTables.RECORDS + ": run bin/docs and commit the page");
  }

  @Test
  void everyRecordHasItsRunAndATable() throws Exception {
    String page = Files.readString(root().resolve(BenchTables.PAGE), StandardCharsets.UTF_8);
    List<String> shown = BenchTables.blocks(page);
    List<String> records;
    try (Stream<Path> files = Files.list(root().resolve(BenchTables.RECORDS))) {
      records = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json")).sorted().toList();
    }
    assertTrue(!records.isEmpty(), "no records in " + BenchTables.RECORDS);
    for (String r : records) {
      assertTrue(shown.contains(r), r + " has no <!-- bench: " + r + " --> block in " + BenchTables.PAGE);
      JsonNode n = new ObjectMapper().readTree(root().resolve(BenchTables.RECORDS).resolve(r).toFile());
      for (String field : List.of("title", "date", "commit", "machine", "command", "recorded", "columns", "rows")) {
        assertTrue(n.hasNonNull(field), r + ": no " + field);
      }
    }
  }

  @Test
  void summariesCountTheMatchingRows() throws Exception {
    JsonNode r = new ObjectMapper().readTree("""
        {"rows": [{"k": 1, "v": 0.96}, {"k": 1, "v": 0.94}, {"k": 2, "v": 0.99}, {"k": 1, "v": 0.95}]}""");
    JsonNode s = new ObjectMapper().readTree("""
        {"label": "k=1", "where": {"k": 1}, "column": "v", "at_least": 0.95}""");
    assertEquals("- k=1: 2 of 3 runs at or above 0.95 (median 0.9500).\n", BenchTables.summary(r, s));
  }
}
