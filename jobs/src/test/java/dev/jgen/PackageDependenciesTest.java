package dev.jgen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The packages' one direction of dependency, as docs/architecture.md draws it: a package of the main code refers only to
 * packages of a lower layer (imports and fully qualified names alike), apart from the exceptions listed here.
 */
class PackageDependenciesTest {
  /** Layers, lowest first; a package may use the packages of lower layers only. docs/architecture.md shows the same. */
  private static final Map<String, Integer> LAYER = Map.ofEntries(
      Map.entry("config", 0), Map.entry("model", 0), Map.entry("notebooks", 0),
      Map.entry("catalog", 1),
      Map.entry("prompt", 2),
      Map.entry("structured", 3),
      Map.entry("engine", 4),
      Map.entry("delta", 5), Map.entry("input", 5),
      Map.entry("generate", 6),
      Map.entry("spark", 7), Map.entry("export", 7),
      Map.entry("eval", 8), Map.entry("curate", 8),
      Map.entry("cli", 9));

  /** References that go upwards today (named in docs/architecture.md): "from -> to". */
  private static final Set<String> KNOWN_UPWARDS = Set.of(
      "config -> engine",      // GenerationSettings builds engine.SamplingParams
      "config -> structured",  // ConfigKeys takes the structured-output key names and ServerEncodings.SERVERS
      "catalog -> prompt");    // ModelResolver reads the weights' tokenizer_config.json with prompt.TokenizerConfig

  private static final Pattern REF = Pattern.compile("\\bdev\\.jgen\\.([a-z]+)\\.");

  @Test
  void packagesDependDownwardsOnly() throws IOException {
    Path root = Files.isDirectory(Path.of("src/main/java/dev/jgen")) ? Path.of("src/main/java/dev/jgen")
        : Path.of("jobs/src/main/java/dev/jgen");
    Set<String> upwards = new TreeSet<>();
    List<String> unexpected = new ArrayList<>();
    try (Stream<Path> files = Files.walk(root)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        Path rel = root.relativize(f);
        if (rel.getNameCount() < 2) {
          continue;
        }
        String from = rel.getName(0).toString();
        assertTrue(LAYER.containsKey(from), "package dev.jgen." + from + " has no layer: place it in PackageDependenciesTest.LAYER "
            + "and in docs/architecture.md");
        Matcher m = REF.matcher(Files.readString(f, StandardCharsets.UTF_8));
        while (m.find()) {
          String to = m.group(1);
          if (to.equals(from) || !LAYER.containsKey(to)) {
            continue;
          }
          if (LAYER.get(to) >= LAYER.get(from)) {
            String edge = from + " -> " + to;
            if (KNOWN_UPWARDS.contains(edge)) {
              upwards.add(edge);
            } else {
              unexpected.add(rel + ": " + edge);
            }
          }
        }
      }
    }
    assertTrue(unexpected.isEmpty(), "references against the packages' direction (docs/architecture.md): " + unexpected);
    assertEquals(KNOWN_UPWARDS, upwards, "a listed exception is gone: remove it from KNOWN_UPWARDS and from docs/architecture.md");
  }
}
