package dev.jgen.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.catalog.ModelResolver;
import dev.jgen.model.TinyLora;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code jgen bench --scenario adapters} (issue 31): rows spread over 4 LoRA adapters in turn (row i has adapter i mod
 * 4: the input order that mixes them most), through {@code bin/jgen generate} (the real command, a child process, the
 * native llama.cpp engine at its defaults) three ways, the same rows and command otherwise:
 * <ul>
 *   <li>{@code grouped}: engine.group_by_adapter=true (the default): rows ordered adapter by adapter;
 *   <li>{@code input-order}: engine.group_by_adapter=false: rows in input order, so the server's slots hold several
 *       adapters and each step decodes each adapter set apart (llama.cpp applies adapters per context);
 *   <li>{@code base}: no model.adapters and no adapter column: the base model alone, the same prompts.
 * </ul>
 * Runs alternate in rounds (grouped, input-order, base; then base, input-order, grouped; ...). Reported per run: the
 * summary's {@code seconds} (the execute phase: tables, attempt, generation, commits), completion tokens and prompt
 * tokens, and their rates over it; per round: grouped over input-order and grouped over base.
 *
 * <p>Sizes from the environment: JGEN_BENCH_ROWS (1024; --quick 64), JGEN_BENCH_NEW_TOKENS (16), JGEN_BENCH_REPEATS
 * (rounds, 2; --quick 1), JGEN_BENCH_MODEL_DIR (default the 1.8b-shape random model, --quick the tiny one). The adapters
 * are jgen's random rank-4 adapters on every attention and MLP projection ({@code tiny-model --lora}).
 */
final class AdapterBench {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final List<String> ADAPTERS = List.of("keigo", "legal", "support", "kansai");

  private AdapterBench() {}

  static ObjectNode run(Path work, boolean quick) throws Exception {
    Path root = EngineBench.repoRoot();
    int rows = EngineBench.envInt("JGEN_BENCH_ROWS", quick ? 64 : 1024);
    int newTokens = EngineBench.envInt("JGEN_BENCH_NEW_TOKENS", 16);
    int rounds = EngineBench.envInt("JGEN_BENCH_REPEATS", quick ? 1 : 2);
    TinyModelSpec spec = quick ? TinyModelSpec.tiny() : TinyModelSpec.llmJp3_1_8bShape();
    String modelDir = System.getenv("JGEN_BENCH_MODEL_DIR");
    Path model = modelDir != null && !modelDir.isBlank() ? Path.of(modelDir)
        : TinyModelWriter.ensure(ModelResolver.defaultCacheDir().resolve("models"), spec);
    Path adapters = Files.createDirectories(work.resolve("adapters-" + spec.name()));
    StringBuilder adapterYaml = new StringBuilder("  adapters:\n");
    for (String a : ADAPTERS) {
      TinyLora lora = TinyLora.named(a);
      Path f = adapters.resolve(lora.fileName());
      if (!Files.exists(f)) {
        lora.writeAdapter(f, spec);
      }
      adapterYaml.append("    ").append(a).append(": ").append(f.toAbsolutePath()).append('\n');
    }
    List<String> mixed = new ArrayList<>();
    List<String> plain = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      String prompt = String.format(Locale.ROOT, "質問%d: %sについて、%d年の出来事を一つ教えてください。", i,
          List.of("東京", "大阪", "京都", "札幌", "福岡", "名古屋", "神戸", "仙台").get(i % 8), 1900 + i);
      ObjectNode n = JSON.createObjectNode();
      n.put("id", "r" + i);
      n.put("prompt", prompt);
      plain.add(JSON.writeValueAsString(n));
      n.put("adapter", ADAPTERS.get(i % ADAPTERS.size()));
      mixed.add(JSON.writeValueAsString(n));
    }
    Path mixedIn = Files.write(work.resolve("adapters-mixed-" + rows + ".jsonl"), mixed, StandardCharsets.UTF_8);
    Path plainIn = Files.write(work.resolve("adapters-plain-" + rows + ".jsonl"), plain, StandardCharsets.UTF_8);
    String common = "input:\n  format: jsonl\nmodel:\n  path: " + model.toAbsolutePath() + "\n%s"
        + "engine:\n  kind: llamacpp\n  group_by_adapter: %s\ngeneration:\n  max_new_tokens: " + newTokens
        + "\n  temperature: 0\njob:\n  chunk_rows: 100000\n  reuse: false\n";
    Path grouped = Files.writeString(work.resolve("adapters-grouped.yaml"), String.format(Locale.ROOT, common, adapterYaml, "true"));
    Path inputOrder = Files.writeString(work.resolve("adapters-input-order.yaml"), String.format(Locale.ROOT, common, adapterYaml, "false"));
    Path base = Files.writeString(work.resolve("adapters-base.yaml"), String.format(Locale.ROOT, common, "", "true"));

    ObjectNode o = JSON.createObjectNode();
    o.put("commit", EngineBench.git(root));
    o.put("cpu", EngineBench.cpuModel());
    o.put("cores", Runtime.getRuntime().availableProcessors());
    o.put("model", model.toString());
    o.put("rows", rows);
    o.put("adapters", String.join(",", ADAPTERS));
    o.put("new_tokens", newTokens);
    o.put("rounds", rounds);
    System.out.printf(Locale.ROOT, "== adapters: %d rows over %d LoRA adapters in turn (rank 4, every projection), %d new tokens,"
        + " greedy, bin/jgen generate (native llama.cpp, engine defaults): grouped by adapter, input order"
        + " (engine.group_by_adapter=false), base model alone; %d alternated rounds; model %s%n", rows, ADAPTERS.size(), newTokens,
        rounds, model);
    System.out.printf(Locale.ROOT, "%-12s %5s %10s %12s %12s %14s %14s%n", "way", "round", "execute s", "completion", "prompt",
        "completion/s", "all tokens/s");
    // One unmeasured run first, of the first 32 rows: the first bin/jgen of a build writes the class-data archive, and
    // the model's and adapters' pages come into the page cache.
    generate(root, work, "warmup", grouped, Files.write(work.resolve("adapters-warmup.jsonl"), mixed.subList(0, Math.min(32, rows)),
        StandardCharsets.UTF_8));
    ArrayNode runs = o.putArray("runs");
    ArrayNode ratios = o.putArray("round_ratios");
    for (int round = 0; round < rounds; round++) {
      List<String> ways = List.of("grouped", "input-order", "base");
      if (round % 2 == 1) {
        ways = List.of("base", "input-order", "grouped");
      }
      java.util.Map<String, Double> rate = new java.util.TreeMap<>();
      for (String way : ways) {
        ObjectNode r = generate(root, work, way, switch (way) {
          case "grouped" -> grouped;
          case "input-order" -> inputOrder;
          default -> base;
        }, way.equals("base") ? plainIn : mixedIn);
        r.put("way", way);
        r.put("round", round);
        double s = r.get("execute_seconds").asDouble();
        r.put("completion_tokens_per_s", r.get("completion_tokens").asLong() / s);
        r.put("all_tokens_per_s", (r.get("completion_tokens").asLong() + r.get("prompt_tokens").asLong()) / s);
        rate.put(way, r.get("completion_tokens_per_s").asDouble());
        runs.add(r);
        System.out.printf(Locale.ROOT, "%-12s %5d %10.2f %12d %12d %14.2f %14.2f%n", way, round, s, r.get("completion_tokens").asLong(),
            r.get("prompt_tokens").asLong(), r.get("completion_tokens_per_s").asDouble(), r.get("all_tokens_per_s").asDouble());
      }
      ObjectNode ratio = JSON.createObjectNode();
      ratio.put("round", round);
      ratio.put("grouped_over_input_order", rate.get("grouped") / rate.get("input-order"));
      ratio.put("grouped_over_base", rate.get("grouped") / rate.get("base"));
      ratios.add(ratio);
      System.out.printf(Locale.ROOT, "round %d: completion tokens/s grouped/input-order %.2f, grouped/base %.2f%n", round,
          ratio.get("grouped_over_input_order").asDouble(), ratio.get("grouped_over_base").asDouble());
    }
    return o;
  }

  private static ObjectNode generate(Path root, Path work, String way, Path config, Path in) throws Exception {
    Path log = work.resolve("adapters-" + way + ".log");
    Path out = work.resolve("out-adapters-" + way + "-" + System.nanoTime());
    List<String> cmd = List.of(root.resolve("bin/jgen").toString(), "generate", "--config", config.toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out);
    JsonNode summary = EngineBench.generateSummary(cmd, log, way);
    ObjectNode r = JSON.createObjectNode();
    r.put("command", String.join(" ", cmd));
    r.put("config", Files.readString(config));
    r.put("execute_seconds", summary.get("seconds").asDouble());
    r.put("ok", summary.get("ok").asLong());
    r.put("prompt_tokens", summary.get("prompt_tokens").asLong());
    r.put("completion_tokens", summary.get("completion_tokens").asLong());
    return r;
  }
}
