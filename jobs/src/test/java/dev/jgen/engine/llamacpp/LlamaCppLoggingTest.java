package dev.jgen.engine.llamacpp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineSpec;
import dev.jgen.testing.ChildJob;
import dev.jgen.testing.TestFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a user sees of a run: `jgen demo` in a JVM of its own, as bin/jgen runs it (same log4j2 config). By default its
 * standard error holds jgen's progress lines and no llama.cpp output; with --verbose llama.cpp's log is there.
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class LlamaCppLoggingTest {
  /** Lines of each source of native output met in `bin/jgen demo` before (see LlamaCppLogging). */
  private static final Pattern NATIVE = Pattern.compile(
      "llama_model_loader|print_info|load_tensors|llama_context|system_info|^build: |^srv |^slot |prompt eval time|"
          + "Java_de_kherud|Extracted '|common_init|^load: |^init: ");

  @TempDir Path dir;

  private record Run(int code, List<String> out, List<String> err) {}

  private Run demo(String name, String... extra) throws Exception {
    String[] args = new String[5 + extra.length];
    args[0] = "demo";
    args[1] = "--set";
    args[2] = "output.path=" + dir.resolve(name);
    args[3] = "--set";
    args[4] = "input.path=" + TestFiles.conf().resolve("data/demo-prompts.jsonl").toAbsolutePath();
    System.arraycopy(extra, 0, args, 5, extra.length);
    Path out = dir.resolve(name + ".out");
    Path err = dir.resolve(name + ".err");
    // The embedded java-llama.cpp engine's log is what this test follows (the native engine runs in its own process).
    Process p = ChildJob.start(out, err, java.util.Map.of("JGEN_LLAMA_IMPL", "jar"), args);
    // Generous: a cold JVM, Spark and Delta on a loaded 2-core machine.
    if (!p.waitFor(8, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError("demo did not finish in 8 minutes");
    }
    return new Run(p.exitValue(), Files.readAllLines(out, StandardCharsets.UTF_8), Files.readAllLines(err, StandardCharsets.UTF_8));
  }

  @Test
  void demoShowsProgressAndSummaryAndNoNativeLogByDefaultAndTheNativeLogWithVerbose() throws Exception {
    Run r = demo("quiet");
    assertEquals(0, r.code(), String.join("\n", r.err()));
    List<String> nativeLines = r.err().stream().filter(l -> NATIVE.matcher(l).find()).toList();
    assertTrue(nativeLines.isEmpty(), "native lines on stderr:\n" + String.join("\n", nativeLines));
    assertTrue(r.out().stream().noneMatch(l -> NATIVE.matcher(l).find()), "native lines on stdout:\n" + String.join("\n", r.out()));
    assertTrue(r.err().stream().anyMatch(l -> l.startsWith("jgen: run run-")), String.join("\n", r.err()));
    assertTrue(r.err().stream().anyMatch(l -> l.matches("jgen: 12/12 rows \\(100%\\), 0 errors.*")), String.join("\n", r.err()));
    // Spark and jgen's other loggers print warnings at most (a loaded machine may earn one; chatter is INFO).
    assertTrue(r.err().stream().noneMatch(l -> l.matches("\\d\\d:\\d\\d:\\d\\d (INFO|DEBUG|TRACE) .*")),
        "info lines on stderr:\n" + String.join("\n", r.err()));
    assertTrue(r.out().stream().anyMatch(l -> l.matches("jgen: run run-\\S+ attempt 1: 12 rows in .* 12 ok, 0 error.*")),
        String.join("\n", r.out()));
    assertTrue(r.out().get(r.out().size() - 1).startsWith("{\"run_id\""), String.join("\n", r.out()));

    Run v = demo("verbose", "--verbose", "--set", "generation.max_new_tokens=2");
    assertEquals(0, v.code(), String.join("\n", v.err()));
    // The model load (llama.cpp's common logger, on at DEBUG) and the core log through jgen's logger.
    assertTrue(v.err().stream().anyMatch(l -> l.contains("llama_model_loader")), "no model load log with --verbose");
    assertTrue(v.err().stream().anyMatch(l -> l.contains("DEBUG native: llama.cpp: ")), "no core log through log4j with --verbose");
    assertTrue(v.out().get(v.out().size() - 1).startsWith("{\"run_id\""), String.join("\n", v.out()));
  }

  @Test
  void aModelThatFailsToLoadSaysWhyItsLogIsOff() throws Exception {
    Path bad = Files.write(dir.resolve("broken.gguf"), "GGUF this is not a model".getBytes(StandardCharsets.US_ASCII));
    EngineException e = assertThrows(EngineException.class,
        () -> new LlamaCppEngineProvider().open(new EngineSpec("llamacpp", bad.toString(), Map.of("threads", "1"))));
    assertTrue(e.getMessage().contains("llama.cpp could not load " + bad), e.getMessage());
    assertTrue(e.getMessage().contains("--verbose"), e.getMessage());
  }
}
