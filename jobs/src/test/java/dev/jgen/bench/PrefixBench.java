package dev.jgen.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.catalog.ModelResolver;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.prompt.HfTokenizer;
import dev.jgen.spark.SparkSessions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * {@code jgen bench --scenario prefix} (issue 28): rows that share long instructions, each followed by a short unique
 * question (in the user message: llm-jp-3's template drops system prompts), through {@code bin/jgen generate} (the real command, a child process) with {@code engine.prefix_cache=true}
 * and {@code false}, the same command otherwise, in alternated pairs (on-off, then off-on). Reported per run: rows over
 * the summary's {@code seconds} (the execute phase), the summary's {@code cached_tokens} and prompt tokens; per pair:
 * the on/off rows/s ratio and whether every row's output text is the same in both runs. A second table does the same
 * with rows that share nothing but the chat template (each row its own system prompt): the cache must not slow them.
 *
 * <p>Sizes from the environment (the workload is 1,000 rows x a 1,000-token prefix on the 1.8b-shape model,
 * hours on a 2-core machine with the cache off): JGEN_BENCH_ROWS (64), JGEN_BENCH_PREFIX_TOKENS (256, measured with the
 * model's tokenizer), JGEN_BENCH_NEW_TOKENS (32), JGEN_BENCH_REPEATS (pairs, 2), JGEN_BENCH_UNRELATED (1: also the
 * second table), JGEN_BENCH_MODEL_DIR (a model directory; default the 1.8b-shape random model, --quick the tiny one).
 */
final class PrefixBench {
  private static final ObjectMapper JSON = new ObjectMapper();

  private PrefixBench() {}

  static ObjectNode run(Path work, boolean quick) throws Exception {
    ObjectNode o = JSON.createObjectNode();
    Path root = EngineBench.repoRoot();
    int rows = EngineBench.envInt("JGEN_BENCH_ROWS", quick ? 16 : 64);
    int prefixTokens = EngineBench.envInt("JGEN_BENCH_PREFIX_TOKENS", quick ? 128 : 256);
    int newTokens = EngineBench.envInt("JGEN_BENCH_NEW_TOKENS", 32);
    int pairs = EngineBench.envInt("JGEN_BENCH_REPEATS", quick ? 1 : 2);
    boolean unrelated = EngineBench.envInt("JGEN_BENCH_UNRELATED", 1) == 1;
    String modelDir = System.getenv("JGEN_BENCH_MODEL_DIR");
    Path dir = modelDir != null && !modelDir.isBlank() ? Path.of(modelDir)
        : TinyModelWriter.ensure(ModelResolver.defaultCacheDir().resolve("models"),
            quick ? TinyModelSpec.tiny() : TinyModelSpec.llmJp3_1_8bShape());
    byte[] tj = Files.readAllBytes(dir.resolve("tokenizer.json"));
    HfTokenizer tok = HfTokenizer.shared("prefix-bench-" + tj.length, tj);

    // The shared instructions: task rules repeated until the tokenizer says they are prefixTokens long.
    String rules = "あなたは誠実で優秀な日本人のアシスタントです。質問に簡潔に答え、根拠を一文で添えてください。"
        + " Answer in Japanese, politely, without lists. ";
    StringBuilder sys = new StringBuilder();
    while (tok.encode(sys.toString()).length < prefixTokens) {
      sys.append(rules);
    }
    String system = sys.toString();
    List<String> shared = new ArrayList<>();
    List<String> apart = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      String user = String.format(Locale.ROOT, "質問%d: %sについて、%d年の出来事を一つ教えてください。", i,
          List.of("東京", "大阪", "京都", "札幌", "福岡", "名古屋", "神戸", "仙台").get(i % 8), 1900 + i);
      shared.add(line("p" + i, system, user));
      // Unrelated: the row's own instructions, different from their first characters (only the template's header is shared).
      apart.add(line("u" + i, i + "番目の指示: " + system.substring((i * 7) % 40), user));
    }
    o.put("commit", EngineBench.git(root));
    o.put("cpu", EngineBench.cpuModel());
    o.put("cores", Runtime.getRuntime().availableProcessors());
    o.put("model", dir.toString());
    o.put("rows", rows);
    o.put("shared_instruction_tokens", tok.encode(system).length);
    o.put("new_tokens", newTokens);
    o.put("pairs", pairs);
    System.out.printf(Locale.ROOT, "== prefix: %d rows sharing %d tokens of instructions (then a unique question), %d new"
        + " tokens, greedy, bin/jgen generate with engine.prefix_cache on and off, %d alternated pairs; model %s%n", rows,
        tok.encode(system).length, newTokens, pairs, dir);
    SparkSession spark = SparkSessions.forReading("jgen-prefix-bench");
    spark.sparkContext().setLogLevel("WARN");
    try {
      o.set("shared", table(root, work, spark, "shared", shared, dir, newTokens, pairs));
      if (unrelated) {
        o.set("unrelated", table(root, work, spark, "unrelated", apart, dir, newTokens, pairs));
      }
    } finally {
      spark.stop();
    }
    return o;
  }

  /**
   * One input row. The shared instructions lead the user message rather than sit in a system message: llm-jp-3's
   * template (the random models' too) replaces any system message with a fixed sentence, so a system prompt would not
   * reach the model at all.
   */
  private static String line(String id, String instructions, String question) throws Exception {
    ObjectNode n = JSON.createObjectNode();
    n.put("id", id);
    n.put("prompt", instructions + "\n\n" + question);
    return JSON.writeValueAsString(n);
  }

  private static ObjectNode table(Path root, Path work, SparkSession spark, String name, List<String> lines, Path model,
      int newTokens, int pairs) throws Exception {
    Path in = work.resolve("prefix-" + name + "-" + lines.size() + ".jsonl");
    Files.write(in, lines, StandardCharsets.UTF_8);
    ObjectNode t = JSON.createObjectNode();
    ArrayNode runs = t.putArray("runs");
    List<Double> ratios = new ArrayList<>();
    boolean allSame = true;
    // Every run's outputs by cache setting, to compare runs with the same setting too: continuous batching places a
    // row's cells and batches its tokens by arrival timing, and the kernels' rounding follows (on random weights, whose
    // logits are nearly flat, that flips greedy picks): the off runs against each other are the baseline.
    Map<Boolean, List<Map<String, String>>> bySetting = new TreeMap<>(Map.of(true, new ArrayList<>(), false, new ArrayList<>()));
    // One unmeasured run first: the first bin/jgen of a build writes the class-data archive and warms the page cache.
    generate(root, work, in, model, newTokens, true, work.resolve("out-prefix-warmup-" + System.nanoTime()));
    System.out.printf(Locale.ROOT, "%-10s %-6s %5s %10s %9s %14s %14s%n", name, "cache", "pair", "execute s", "rows/s",
        "cached tokens", "prompt tokens");
    for (int pair = 0; pair < pairs; pair++) {
      Map<Boolean, ObjectNode> got = new TreeMap<>();
      Map<Boolean, Map<String, String>> outputs = new TreeMap<>();
      for (boolean on : pair % 2 == 0 ? List.of(true, false) : List.of(false, true)) {
        Path out = work.resolve("out-prefix-" + name + "-" + on + "-" + System.nanoTime());
        ObjectNode r = generate(root, work, in, model, newTokens, on, out);
        r.put("pair", pair);
        r.put("rows_per_s", lines.size() / r.get("execute_seconds").asDouble());
        got.put(on, r);
        Map<String, String> texts = new TreeMap<>();
        for (Row row : spark.read().format("delta").load(out.toString()).select("id", "output_text").collectAsList()) {
          texts.put(row.getString(0), row.getString(1));
        }
        outputs.put(on, texts);
        bySetting.get(on).add(texts);
        runs.add(r);
        System.out.printf(Locale.ROOT, "%-10s %-6s %5d %10.2f %9.3f %14s %14d%n", name, on ? "on" : "off", pair,
            r.get("execute_seconds").asDouble(), r.get("rows_per_s").asDouble(), r.get("cached_tokens").asText(),
            r.get("prompt_tokens").asLong());
      }
      double ratio = got.get(true).get("rows_per_s").asDouble() / got.get(false).get("rows_per_s").asDouble();
      boolean same = outputs.get(true).equals(outputs.get(false)) && outputs.get(true).size() == lines.size();
      int differ = differing(outputs.get(true), outputs.get(false));
      ratios.add(ratio);
      allSame &= same;
      got.get(true).put("rows_differing_from_off", differ);
      System.out.printf(Locale.ROOT, "%-10s pair %d: rows/s on/off %.2f; outputs identical: %s (%d of %d rows differ)%n", name,
          pair, ratio, same, differ, lines.size());
    }
    ArrayNode r = t.putArray("pair_ratios");
    ratios.forEach(r::add);
    t.put("outputs_identical", allSame);
    for (boolean on : List.of(false, true)) {
      List<Map<String, String>> runsOf = bySetting.get(on);
      for (int i = 1; i < runsOf.size(); i++) {
        int d = differing(runsOf.get(0), runsOf.get(i));
        t.put("rows_differing_between_" + (on ? "on" : "off") + "_runs_" + i, d);
        System.out.printf(Locale.ROOT, "%-10s %s run 0 against %s run %d: %d of %d rows differ%n", name, on ? "on" : "off",
            on ? "on" : "off", i, d, lines.size());
      }
    }
    return t;
  }

  private static int differing(Map<String, String> a, Map<String, String> b) {
    java.util.Set<String> ids = new java.util.TreeSet<>(a.keySet());
    ids.addAll(b.keySet());
    return (int) ids.stream().filter(id -> !java.util.Objects.equals(a.get(id), b.get(id))).count();
  }

  private static ObjectNode generate(Path root, Path work, Path in, Path model, int newTokens, boolean cache, Path out)
      throws Exception {
    Path log = work.resolve("prefix-" + cache + ".log");
    List<String> cmd = List.of(root.resolve("bin/jgen").toString(), "generate", "--config",
        root.resolve("conf/jobs/demo.yaml").toString(), "--set", "input.path=" + in, "--set", "model.path=" + model,
        "--set", "engine.kind=llamacpp", "--set", "engine.prefix_cache=" + cache,
        "--set", "generation.max_new_tokens=" + newTokens, "--set", "generation.temperature=0",
        "--set", "job.chunk_rows=100000", "--set", "output.path=" + out);
    JsonNode summary = EngineBench.generateSummary(cmd, log, "prefix_cache=" + cache);
    ObjectNode r = JSON.createObjectNode();
    r.put("prefix_cache", cache);
    r.put("command", String.join(" ", cmd));
    r.put("execute_seconds", summary.get("seconds").asDouble());
    r.set("cached_tokens", summary.get("cached_tokens"));
    r.put("prompt_tokens", summary.get("prompt_tokens").asLong());
    r.put("completion_tokens", summary.get("completion_tokens").asLong());
    return r;
  }
}
