package dev.jgen.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.testing.Cli;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jgen tiny-model --eos-scale}: the stopping variant differs from the default model only where it should. */
class TinyModelCommandTest {
  @TempDir Path tmp;

  @Test
  void eosScaleWritesAStoppingModelAndRejectsBadValues() throws Exception {
    ObjectMapper json = new ObjectMapper();
    Cli plain = Cli.run("tiny-model", "--out", tmp.resolve("plain").toString());
    assertEquals(0, plain.code(), plain.err());
    Cli stop = Cli.run("tiny-model", "--out", tmp.resolve("stop").toString(), "--eos-scale", "0.85");
    assertEquals(0, stop.code(), stop.err());
    JsonNode a = json.readTree(tmp.resolve("plain").resolve(TinyModelWriter.METADATA_FILE).toFile());
    JsonNode b = json.readTree(tmp.resolve("stop").resolve(TinyModelWriter.METADATA_FILE).toFile());
    assertTrue(a.path("spec").path("eosScale").isMissingNode(), a.toString());
    assertEquals(0.85, b.path("spec").path("eosScale").asDouble(), b.toString());
    assertTrue(b.path("name").asText().endsWith("-eos0.85"), b.toString());
    // same tensor layout, different weights (the EOS row) and name
    assertEquals(a.path("gguf").path("tensorCount"), b.path("gguf").path("tensorCount"));
    assertNotEquals(a.path("gguf").path("sha256"), b.path("gguf").path("sha256"));
    Cli bad = Cli.run("tiny-model", "--out", tmp.resolve("bad").toString(), "--eos-scale", "-1");
    assertEquals(2, bad.code(), bad.out() + bad.err());
    assertTrue(bad.err().contains("--eos-scale"), bad.err());
  }
}
