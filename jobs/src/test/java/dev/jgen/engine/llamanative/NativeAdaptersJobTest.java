package dev.jgen.engine.llamanative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.model.TinyLora;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 31 item 2 through a whole job: rows of three LoRA adapters and the base model, interleaved in one input, run on
 * the native llama.cpp engine (one server, every adapter loaded once); each row's greedy output equals the one it gets
 * in a run of its adapter alone, whether the job groups rows by adapter (the default) or keeps input order
 * (engine.group_by_adapter=false: decode steps then hold several adapter sets).
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class NativeAdaptersJobTest {
  @TempDir static Path dir;
  static final List<String> ADAPTERS = List.of("keigo", "legal", "kansai");
  static Path config;

  @BeforeAll
  static void write() throws Exception {
    Assumptions.assumeTrue(NativeBuild.server().isPresent(), "no native build on this machine");
    StringBuilder yaml = new StringBuilder("model:\n  id: tiny-llama-ja\n  adapters:\n");
    for (String a : ADAPTERS) {
      TinyLora lora = TinyLora.named(a);
      yaml.append("    ").append(a).append(": ").append(lora.writeAdapter(dir.resolve(lora.fileName()), TinyModelSpec.tiny())).append('\n');
    }
    yaml.append("engine:\n  kind: llamacpp\n  threads: 1\n  parallel: 4\n")
        .append("generation:\n  max_new_tokens: 12\n  temperature: 0\n");
    config = Files.writeString(dir.resolve("adapters.yaml"), yaml.toString());
  }

  /** Row i: a prompt of its own and, in turn, keigo, legal, kansai or the base model (no adapter field). */
  private static String adapterOf(int i) {
    return i % 4 == 3 ? null : ADAPTERS.get(i % 4);
  }

  private static Path input(String name, java.util.function.IntPredicate keep, boolean withAdapter) throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      if (!keep.test(i)) {
        continue;
      }
      String a = adapterOf(i);
      lines.add("{\"id\": \"r" + i + "\", \"prompt\": \"質問その" + i + ": 日本の季節について一文で答えてください。\""
          + (withAdapter && a != null ? ", \"adapter\": \"" + a + "\"" : "") + "}");
    }
    return TestFiles.jsonl(dir, name, lines);
  }

  /** Runs a job and returns each row's (adapter, output) by id. */
  private static Map<String, List<String>> run(String run, Path in, String... sets) {
    String table = dir.resolve("gen-" + run).toString();
    List<String> args = new ArrayList<>(List.of("generate", "--config", config.toString(), "--set", "input.path=" + in,
        "--set", "output.path=" + table, "--set", "run.id=" + run, "--set", "job.reuse=false"));
    for (String s : sets) {
      args.add("--set");
      args.add(s);
    }
    Cli c = Cli.run(args.toArray(String[]::new));
    assertEquals(0, c.code(), c.err());
    JsonNode s = c.summary();
    assertEquals(0, s.get("error").asLong(), s.toString());
    Map<String, List<String>> out = new TreeMap<>();
    for (Row r : TestSpark.get().read().format("delta").load(table).collectAsList()) {
      out.put(r.getAs("id"), java.util.Arrays.asList(r.<String>getAs("adapter"), r.<String>getAs("output_text")));
    }
    assertEquals(s.get("ok").asLong(), out.size(), "one row each");
    return out;
  }

  @Test
  void rowsOfThreeAdaptersAndTheBaseInOneJobMatchTheirSingleAdapterRuns() throws Exception {
    // Each adapter alone (generation.adapter names it; the same model.adapters, so the same engine), and the base alone.
    Map<String, List<String>> alone = new TreeMap<>();
    for (String a : ADAPTERS) {
      alone.putAll(run("alone-" + a, input("alone-" + a + ".jsonl", i -> a.equals(adapterOf(i)), false), "generation.adapter=" + a));
    }
    alone.putAll(run("alone-base", input("alone-base.jsonl", i -> adapterOf(i) == null, false)));
    assertEquals(16, alone.size());
    // Every prompt on the base model too: each adapter changes some of its rows' outputs (else nothing here tests them).
    Map<String, List<String>> base = run("base-all", input("base-all.jsonl", i -> true, false));
    for (String a : ADAPTERS) {
      List<String> differs = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        if (a.equals(adapterOf(i)) && !alone.get("r" + i).get(1).equals(base.get("r" + i).get(1))) {
          differs.add("r" + i);
        }
      }
      assertNotEquals(List.of(), differs, "adapter " + a + " changes no output");
    }
    Path mixed = input("mixed.jsonl", i -> true, true);
    assertEquals(alone, run("mixed-grouped", mixed), "grouped by adapter (the default)");
    assertEquals(alone, run("mixed-input-order", mixed, "engine.group_by_adapter=false"), "input order: mixed decode steps");
    assertNull(alone.get("r3").get(0), "the base model's rows record no adapter");
  }
}
