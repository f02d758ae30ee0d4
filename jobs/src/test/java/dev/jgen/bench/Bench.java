package dev.jgen.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.catalog.ModelResolver;
import dev.jgen.config.ConfigLoader;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.SamplingParams;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.spark.GenerateAction;
import dev.jgen.spark.GenerateJob;
import dev.jgen.spark.GenerateResult;
import dev.jgen.testing.ChildJob;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import dev.jgen.testing.djl.ServingBench;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code jgen bench}: speed measured, never asserted. Every ratio compares two figures taken in the same run on the same
 * machine. Scenarios: {@code engine} ({@code bin/jgen generate} against llama.cpp's own llama-batched-bench and
 * java-llama.cpp's public API: {@link EngineBench}),
 * {@code pipeline} (the job around a zero-cost engine: rows/s, stage shares, scaling, peak heap), {@code serving} (the
 * DJL Serving stand-in's busy fraction). Results print as a table and are written as JSON.
 */
public final class Bench {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private Bench() {}

  public static void main(String[] args) throws Exception {
    String scenario = "all";
    Path out = Path.of("target", "bench", "bench-" + Instant.now().toString().replace(':', '-') + ".json");
    boolean quick = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--scenario" -> scenario = args[++i];
        case "--out" -> out = Path.of(args[++i]);
        case "--quick" -> quick = true;
        default -> {
          System.err.println("usage: jgen bench [--scenario engine|pipeline|serving|all] [--out FILE.json] [--quick]");
          System.exit(2);
        }
      }
    }
    ObjectNode report = JSON.createObjectNode();
    report.put("date", Instant.now().toString());
    report.put("machine", machine());
    report.put("java", System.getProperty("java.version"));
    Path work = Files.createDirectories(Path.of("target", "bench", "work"));
    try {
      if (scenario.equals("all") || scenario.equals("engine")) {
        report.set("engine", engine(work, quick));
      }
      if (scenario.equals("all") || scenario.equals("pipeline")) {
        report.set("pipeline", pipeline(work, quick));
      }
      if (scenario.equals("all") || scenario.equals("serving")) {
        report.set("serving", serving(quick));
      }
    } finally {
      EngineRegistry.closeAll();
    }
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, JSON.writeValueAsString(report));
    System.out.println("bench results written to " + out.toAbsolutePath());
    System.exit(0);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // engine (nativecpu): `bin/jgen generate` as a child process against llama.cpp's own llama-batched-bench (built by
  // bin/build-native from the same source with the same flags) and java-llama.cpp's public API, same GGUF and threads.

  private static ObjectNode engine(Path work, boolean quick) throws Exception {
    return EngineBench.run(work, quick);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // pipeline: the job around a zero-cost engine, each measurement a fresh `jgen generate` process

  private static ObjectNode pipeline(Path work, boolean quick) throws Exception {
    ObjectNode o = JSON.createObjectNode();
    int small = quick ? 2_000 : 10_000;
    int large = quick ? 10_000 : 100_000;
    Path smallIn = syntheticInput(work, small);
    Path largeIn = syntheticInput(work, large);
    System.out.println("== pipeline: read + render + tokenize + write around a zero-cost engine (engine.kind=echo)");
    System.out.printf("%-44s %8s %9s %9s %10s%n", "run", "rows", "seconds", "rows/s", "peak heap");
    JsonNode s1 = child(work, "echo-" + small + "-local1", smallIn, "local[1]", "echo", 0);
    JsonNode s2 = child(work, "echo-" + small + "-local2", smallIn, "local[2]", "echo", 0);
    JsonNode l2 = child(work, "echo-" + large + "-local2", largeIn, "local[2]", "echo", 0);
    JsonNode l1 = child(work, "echo-" + large + "-local1", largeIn, "local[1]", "echo", 0);
    JsonNode none = child(work, "none-" + large + "-local2", largeIn, "local[2]", "none", 0);
    // One partition holding every row: the heap must stay bounded (rows stream through the partition).
    JsonNode one = child(work, "echo-" + large + "-one-partition", largeIn, "local[2]", "echo", 1);
    for (var e : Map.of("small_local1", s1, "small_local2", s2, "large_local1", l1, "large_local2", l2, "large_none_local2", none,
        "large_one_partition", one).entrySet()) {
      o.set(e.getKey(), e.getValue());
    }
    o.put("scaling_1_to_2_cores_small", rate(s2) / rate(s1));
    o.put("scaling_1_to_2_cores_large", rate(l2) / rate(l1));
    o.put("scaling_small_to_large_rows_per_second", rate(l2) / rate(s2));
    o.put("engine_path_share", 1 - rate(l2) / rate(none) < 0 ? 0 : 1 - rate(l2) / rate(none));
    System.out.printf(Locale.ROOT, "scaling 1 -> 2 cores: %.2fx (%d rows), %.2fx (%d rows); %d -> %d rows: %.2fx rows/s%n",
        rate(s2) / rate(s1), small, rate(l2) / rate(l1), large, small, large, rate(l2) / rate(s2));
    System.out.printf(Locale.ROOT, "engine call path (echo vs none): %.1f%% of the time; peak heap with one %d-row partition: %d MB%n",
        100 * o.get("engine_path_share").asDouble(), large, one.get("peak_heap_mb").asLong());
    return o;
  }

  private static double rate(JsonNode r) {
    return r.get("rows_in").asDouble() / r.get("seconds").asDouble();
  }

  private static Path syntheticInput(Path work, int rows) throws IOException {
    Path f = work.resolve("pipeline-" + rows + ".jsonl");
    if (!Files.exists(f)) {
      List<String> lines = new ArrayList<>(rows);
      for (int i = 0; i < rows; i++) {
        lines.add("{\"id\": \"p" + i + "\", \"prompt\": \"合成データの質問 " + i + "：日本の四季について" + (i % 7 + 1) + "文で説明してください。\"}");
      }
      Files.write(f, lines);
    }
    return f;
  }

  private static JsonNode child(Path work, String name, Path in, String master, String engine, int partitions) throws Exception {
    Path log = work.resolve(name + ".log");
    Process p = ChildJob.start(log, "generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + work.resolve("out-" + name + "-" + System.nanoTime()),
        "--set", "engine.kind=" + engine, "--set", "spark.master=" + master, "--set", "job.chunk_rows=1000000",
        "--set", "job.partitions=" + partitions, "--set", "spark.conf.spark.sql.shuffle.partitions=4");
    if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IllegalStateException(name + " failed; see " + log);
    }
    List<String> lines = Files.readAllLines(log);
    JsonNode s = null;
    for (int i = lines.size() - 1; i >= 0 && s == null; i--) {
      if (lines.get(i).startsWith("{\"run_id\"")) {
        s = JSON.readTree(lines.get(i));
      }
    }
    if (s == null) {
      throw new IllegalStateException(name + ": no summary line in " + log);
    }
    System.out.printf(Locale.ROOT, "%-44s %8d %9.1f %9.0f %7d MB%n", name, s.get("rows_in").asLong(), s.get("seconds").asDouble(), rate(s),
        s.get("peak_heap_mb").asLong());
    return s;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // serving: the DJL Serving stand-in (continuous batching, fixed step time) behind the whole job

  private static ObjectNode serving(boolean quick) throws Exception {
    System.out.println("== serving: DJL Serving stand-in, batch 8, 20 ms per step, 16..96 new tokens per row");
    ServingBench.Result r = quick ? ServingBench.run(96, 6, 8, 20, 8, 48) : ServingBench.run(384, 12, 8, 20, 16, 96);
    System.out.printf(Locale.ROOT, "rows %d, partitions %d: busy fraction %.4f (goal >= 0.95), avg in flight %.2f of %d, job %.1f s%n",
        r.rows(), r.partitions(), r.busyFraction(), r.avgInFlight(), r.batch(), r.jobSeconds());
    return JSON.valueToTree(r);
  }

  private static String machine() {
    return Runtime.getRuntime().availableProcessors() + " cores, " + (Runtime.getRuntime().maxMemory() >> 20) + " MB max heap, "
        + System.getProperty("os.name") + " " + System.getProperty("os.arch");
  }
}
