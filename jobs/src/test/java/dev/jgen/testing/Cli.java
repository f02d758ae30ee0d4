package dev.jgen.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** Runs a jgen command in this JVM (sharing the test SparkSession) and captures what it prints. */
public record Cli(int code, String out, String err) {

  public static Cli run(String... args) {
    TestSpark.get();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Cli(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** The last line of standard output, parsed: the run summary every scheduler reads. */
  public JsonNode summary() {
    List<String> lines = out.lines().toList();
    try {
      return new ObjectMapper().readTree(lines.get(lines.size() - 1));
    } catch (IOException e) {
      throw new UncheckedIOException("last stdout line is not JSON:\n" + out, e);
    }
  }
}
