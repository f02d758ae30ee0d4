package dev.jgen.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir Path dir;

  private Path yaml(String text) throws IOException {
    Path f = dir.resolve("job.yaml");
    Files.writeString(f, text);
    return f;
  }

  private static final String BASE = """
      input: {path: in.jsonl}
      model: {id: tiny-llama-ja}
      output: {path: out}
      """;

  @Test
  void nestedAndDottedKeysAndOverrides() throws IOException {
    JobConfig c = ConfigLoader.load(yaml(BASE + "generation:\n  temperature: 0.3\n  stop: ['</s>', '###']\n"),
        List.of("generation.max_new_tokens=12", "spark.conf.spark.sql.shuffle.partitions=3", "generation.seed=7"));
    assertEquals(0.3, c.number("generation.temperature"));
    assertEquals(12, c.integer("generation.max_new_tokens"));
    assertEquals(7L, c.longValue("generation.seed"));
    assertEquals(List.of("</s>", "###"), c.strings("generation.stop"));
    assertEquals("3", c.map("spark.conf").get("spark.sql.shuffle.partitions"));
    assertEquals("id", c.string("input.id_column"));
  }

  @Test
  void unknownKeyIsNamed() throws IOException {
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(yaml(BASE + "generation:\n  temprature: 1\n"), List.of()));
    assertTrue(e.getMessage().contains("'generation.temprature'"), e.getMessage());
    assertTrue(e.getMessage().contains("generation.temperature"), "suggests the right key: " + e.getMessage());
  }

  @Test
  void missingInputPath() throws IOException {
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(yaml("model: {id: x}\noutput: {path: o}\n"), List.of()));
    assertTrue(e.getMessage().startsWith("input.path: missing"), e.getMessage());
  }

  @Test
  void outOfRangeValuesNameKeyAndAllowedValues() throws IOException {
    Path f = yaml(BASE);
    assertMessage(f, "generation.max_new_tokens=0", "generation.max_new_tokens: must be > 0 (got '0')");
    assertMessage(f, "generation.temperature=-0.1", "generation.temperature: must be >= 0.0 (got '-0.1')");
    assertMessage(f, "generation.top_p=1.5", "generation.top_p: must be in (0, 1] (got '1.5')");
    assertMessage(f, "generation.top_p=0", "generation.top_p: must be in (0, 1] (got '0')");
    assertMessage(f, "input.format=csv", "input.format: must be one of jsonl | parquet | delta | openai-batch (got 'csv')");
    assertMessage(f, "engine.kind=vllm", "engine.kind: must be one of llamacpp | djl-serving | trtllm-serve | echo | none (got 'vllm')");
    assertMessage(f, "generation.max_new_tokens=many", "generation.max_new_tokens: expected an integer (got 'many')");
  }

  @Test
  void badSetSyntax() throws IOException {
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(yaml(BASE), List.of("generation.seed")));
    assertTrue(e.getMessage().contains("key=value"), e.getMessage());
  }

  private static void assertMessage(Path f, String set, String expected) {
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(f, List.of(set)));
    assertEquals(expected, e.getMessage());
  }

  @Test
  void derivedSeedsAreStableAndDistinct() {
    long a = GenerationSettings.deriveSeed(42, "q1", 0);
    assertEquals(a, GenerationSettings.deriveSeed(42, "q1", 0));
    assertTrue(a != GenerationSettings.deriveSeed(42, "q1", 1));
    assertTrue(a != GenerationSettings.deriveSeed(43, "q1", 0));
    assertTrue(a >= 0 && a < (1L << 31));
  }
}
