package dev.jgen.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.LogFormat;
import dev.jgen.catalog.ModelResolver;
import dev.jgen.config.ConfigLoader;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.spark.GenerateJob;
import dev.jgen.testing.TestFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code jgen bench --scenario engine}: three ways to generate on the same GGUF with the same threads and 1/2/4/8
 * sequences, every figure labelled with what it divides by what.
 *
 * <ul>
 *   <li><b>native</b>: llama.cpp's own {@code llama-batched-bench}, built by bin/build-native from the same source and
 *       flags as jgen's engine, unified KV cache ({@code -kvu}) like jgen's. It decodes random tokens in lockstep and
 *       samples nothing. It does jgen's work: as many sequences as jgen has rows, in waves of the sequence count (one
 *       run, the count repeated), so a pair's two halves last about as long. Reported: decode tok/s (S_TG) and
 *       completion tokens over the waves' prompt + decode time (sum of pl*tg / sum of T).
 *   <li><b>jgen</b>: {@code bin/jgen generate} as a child process, greedy, the same prompt rows. Reported: completion
 *       tokens over the engine's generation window (first request sent to last answer read, as the native engine
 *       reports it in the summary's {@code server_metrics}: prompt + decode, model load excluded, the same measure
 *       as llama-batched-bench's), over the job's "generate and commit" phase (model load and Delta commit included),
 *       and over the whole command's wall time (JVM start, Spark, tables, model load, commit).
 *   <li><b>java-llama.cpp</b>: its public API in this JVM ({@code LlamaModel.generate}, text prompts, {@code setParallel}),
 *       which is what Spark NLP's AutoGGUF builds on; completion tokens (streamed outputs) over generation time.
 * </ul>
 * The prompt length given to llama-batched-bench is the mean token count of jgen's rendered prompts.
 */
final class EngineBench {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern GENERATED = Pattern.compile("generated now in ([0-9.]+) s \\(([0-9.]+) completion tok/s\\)");
  private static final int[] SEQUENCES = {1, 2, 4, 8};

  private EngineBench() {}

  static ObjectNode run(Path work, boolean quick) throws Exception {
    ObjectNode o = JSON.createObjectNode();
    Path root = Path.of("").toAbsolutePath();
    while (root != null && !Files.isRegularFile(root.resolve("bin/build-native"))) {
      root = root.getParent();
    }
    if (root == null) {
      throw new IllegalStateException("bin/build-native not found");
    }
    Process b = new ProcessBuilder(root.resolve("bin/build-native").toString(), "--bench", "--print")
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String server = new String(b.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (b.waitFor() != 0) {
      System.out.println("== engine: no native build on this machine (bin/build-native failed); nothing to compare");
      o.put("skipped", "bin/build-native exit " + b.exitValue());
      return o;
    }
    Path batchedBench = Path.of(server).resolveSibling("llama-batched-bench");
    TinyModelSpec spec = quick ? TinyModelSpec.tiny() : TinyModelSpec.llmJp3_1_8bShape();
    Path dir = TinyModelWriter.ensure(ModelResolver.defaultCacheDir().resolve("models"), spec);
    Path gguf = dir.resolve("model.gguf");
    // JGEN_BENCH_THREADS / _ROWS / _NEW_TOKENS / _JAR_ROWS shrink the run on a busy machine (every figure is a rate).
    int threads = envInt("JGEN_BENCH_THREADS", Runtime.getRuntime().availableProcessors());
    // The workload: 32 Japanese prompts x 64 new tokens (quick: the tiny model, 16 x 32).
    int rows = envInt("JGEN_BENCH_ROWS", quick ? 16 : 32);
    int newTokens = envInt("JGEN_BENCH_NEW_TOKENS", quick ? 32 : 64);
    // java-llama.cpp is the slowest by far: it runs the first 8 rows only (a rate, so still comparable; labelled).
    int jarRows = envInt("JGEN_BENCH_JAR_ROWS", 8);

    // The prompt rows: the demo's Japanese prompts, rendered by the model's template exactly as the job renders them.
    List<String> demo = Files.readAllLines(TestFiles.conf().resolve("data/demo-prompts.jsonl")).stream()
        .filter(l -> l.contains("\"prompt\"")).toList();
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      lines.add(demo.get(i % demo.size()).replaceFirst("\"id\": \"([^\"]+)\"", "\"id\": \"$1-" + i + "\"")
          .replaceAll(", \"(temperature|max_new_tokens)\": [0-9.]+", ""));
    }
    Path in = work.resolve("engine-rows-" + rows + ".jsonl");
    Files.write(in, lines);
    Map<String, Object> settings = new LinkedHashMap<>();
    settings.put("input.path", in.toString());
    settings.put("model.path", dir.toString());
    settings.put("generation.max_new_tokens", newTokens);
    settings.put("output.path", work.resolve("unused").toString());
    GenerateJob job = GenerateJob.prepare(ConfigLoader.fromMap(settings), TestFiles.conf());
    PromptTranslator translator = PromptTranslator.shared(job.prompts());
    List<PreparedPrompt> prompts = new ArrayList<>();
    long promptTokens = 0;
    for (String l : lines) {
      PreparedPrompt p = translator.prepare(ChatInput.ofPrompt(JSON.readTree(l).get("prompt").asText()), newTokens);
      prompts.add(p);
      promptTokens += p.tokenIds().length;
    }
    int meanPrompt = (int) Math.max(1, Math.round((double) promptTokens / rows));

    o.put("commit", git(root));
    o.put("cpu", cpuModel());
    o.put("cores", Runtime.getRuntime().availableProcessors());
    o.put("model", spec.name() + " (" + (Files.size(gguf) >> 20) + " MiB GGUF, random weights)");
    o.put("rows", rows);
    o.put("java_llama_cpp_rows", Math.min(jarRows, rows));
    o.put("new_tokens", newTokens);
    o.put("mean_prompt_tokens", meanPrompt);
    o.put("threads", threads);
    System.out.printf(Locale.ROOT, "== engine: %s, %d rows x %d new tokens (greedy), mean prompt %d tokens, %d threads, CPU %s%n",
        spec.name(), rows, newTokens, meanPrompt, threads, o.get("cpu").asText());

    // Each sequence count runs native, then jgen, then java-llama.cpp back to back, so the three share whatever else
    // the machine is doing at that moment; the best native configuration is measured again next to the defaults run.
    ArrayNode table = o.putArray("rows_table");
    System.out.printf("%-34s %5s %11s %13s %13s %11s %7s %9s%n", "run", "seqs", "decode t/s", "gen-phase t/s",
        "job-phase t/s", "command t/s", "tokens", "vs native");
    // A shared or virtual machine's speed drifts by 2x from one minute to the next (llama-batched-bench alone, run
    // back to back on the idle 2-core development machine: 14.7 to 28.5 tok/s): each sequence count alternates native
    // and jgen JGEN_BENCH_REPEATS times, and the table gives medians and the median of the pairs' ratios.
    int repeats = envInt("JGEN_BENCH_REPEATS", quick ? 1 : 3);
    o.put("repeats", repeats);
    // JGEN_BENCH_SEQUENCES (e.g. "1") runs only those counts; JGEN_BENCH_DEFAULTS=0 skips the sweep and the defaults rows:
    // more pairs of one count in the same time, where the machine's drift needs them.
    // JGEN_BENCH_SEQUENCES=none: no per-count pairs, only the sweep and the defaults against the best count.
    int[] sequences = System.getenv("JGEN_BENCH_SEQUENCES") == null ? SEQUENCES
        : "none".equals(System.getenv("JGEN_BENCH_SEQUENCES")) ? new int[0]
        : java.util.Arrays.stream(System.getenv("JGEN_BENCH_SEQUENCES").split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    for (int s : sequences) {
      ObjectNode r = table.addObject();
      r.put("sequences", s);
      r.put("threads", threads);
      List<Double> nativeRates = new ArrayList<>();
      List<Double> nativeDecode = new ArrayList<>();
      List<Double> jgenWindow = new ArrayList<>();
      List<Double> jgenPhase = new ArrayList<>();
      List<Double> jgenCommand = new ArrayList<>();
      List<Double> ratios = new ArrayList<>();
      ArrayNode pairs = r.putArray("pairs");
      long jgenTokens = 0;
      for (int rep = 0; rep < repeats; rep++) {
        JsonNode n = waves(batchedBench, gguf, work, meanPrompt, newTokens, threads, s, rows, o);
        ObjectNode jg = jgen(root, work, in, dir, threads, s, newTokens, "jgen-s" + s + "-r" + rep);
        ObjectNode pair = pairs.addObject();
        pair.set("jgen", jg);
        jgenWindow.add(jg.get("engine_window_tokens_per_second").asDouble());
        jgenPhase.add(jg.get("generation_phase_tokens_per_second").asDouble());
        jgenCommand.add(jg.get("whole_command_tokens_per_second").asDouble());
        jgenTokens = jg.get("completion_tokens").asLong();
        if (n != null) {
          pair.set("native", n);
          nativeRates.add(completionRate(n));
          nativeDecode.add(n.get("speed_tg").asDouble());
          ratios.add(jg.get("engine_window_tokens_per_second").asDouble() / completionRate(n));
        }
      }
      r.put("native_decode_tokens_per_second_median", median(nativeDecode));
      r.put("native_completion_tokens_per_second_prompt_plus_decode_median", median(nativeRates));
      r.put("jgen_engine_window_tokens_per_second_median", median(jgenWindow));
      r.put("jgen_generate_and_commit_phase_tokens_per_second_median", median(jgenPhase));
      r.put("jgen_whole_command_tokens_per_second_median", median(jgenCommand));
      r.put("jgen_vs_native_generation_phase_median_of_pairs", median(ratios));
      System.out.printf(Locale.ROOT, "%-34s %5d %11.1f %13.1f %13s %11s %7d %9s  (runs: %s)%n", "llama-batched-bench (native)", s,
          median(nativeDecode), median(nativeRates), "-", "-", (long) s * newTokens * ((rows + s - 1) / s), "1.00", rounded(nativeRates));
      System.out.printf(Locale.ROOT, "%-34s %5d %11s %13.1f %13.1f %11.1f %7d %9.2f  (runs: %s; pair ratios %s)%n",
          "bin/jgen generate (native engine)", s, "-", median(jgenWindow), median(jgenPhase), median(jgenCommand), jgenTokens,
          median(ratios), rounded(jgenWindow), rounded(ratios));
      ObjectNode jl = javaLlama(gguf, prompts.subList(0, Math.min(jarRows, prompts.size())), threads, s, newTokens);
      r.set("java_llama_cpp", jl);
      System.out.printf(Locale.ROOT, "%-34s %5d %11s %13.1f %13s %11s %7d %9.2f%n", "java-llama.cpp 4.2.0 API, " + Math.min(jarRows, rows) + " rows", s, "-",
          jl.get("generation_tokens_per_second").asDouble(), "-", "-", jl.get("completion_tokens").asLong(),
          jl.get("generation_tokens_per_second").asDouble() / median(nativeRates));
    }
    if (envInt("JGEN_BENCH_DEFAULTS", 1) == 0) {
      System.out.println("(JGEN_BENCH_DEFAULTS=0: the best native configuration and the defaults rows were not run)");
      return o;
    }
    // The machine's best native configuration: every core, 1 to 16 sequences.
    int cores = Runtime.getRuntime().availableProcessors();
    Map<Integer, JsonNode> all = batchedBench(batchedBench, gguf, work, meanPrompt, newTokens, cores, List.of(1, 2, 4, 8, 16), o);
    ArrayNode nativeAll = o.putArray("native_all");
    double bestNative = 0;
    int bestNativePl = 0;
    for (var e : all.entrySet()) {
      double c = completionRate(e.getValue());
      nativeAll.addObject().put("threads", cores).put("sequences", e.getKey()).put("decode_tokens_per_second", e.getValue().get("speed_tg").asDouble())
          .put("completion_tokens_per_second_prompt_plus_decode", c);
      System.out.printf(Locale.ROOT, "%-34s %5d %11.1f %13.1f%n", "llama-batched-bench, " + cores + " threads", e.getKey(),
          e.getValue().get("speed_tg").asDouble(), c);
      if (c > bestNative) {
        bestNative = c;
        bestNativePl = e.getKey();
      }
    }
    // The defaults against that configuration, alternated like the rows above (one pair each repeat, back to back).
    ArrayNode defaultPairs = o.putArray("jgen_defaults_pairs");
    List<Double> defaultWindow = new ArrayList<>();
    List<Double> defaultPhase = new ArrayList<>();
    List<Double> defaultCommand = new ArrayList<>();
    List<Double> bestRates = new ArrayList<>();
    List<Double> defaultRatios = new ArrayList<>();
    List<Double> defaultExecute = new ArrayList<>();
    List<Double> defaultExecuteRatios = new ArrayList<>();
    long defaultTokens = 0;
    for (int rep = 0; rep < repeats; rep++) {
      JsonNode n = waves(batchedBench, gguf, work, meanPrompt, newTokens, cores, bestNativePl, rows, o);
      ObjectNode defaults = jgen(root, work, in, dir, 0, 0, newTokens, "jgen-defaults-r" + rep);
      ObjectNode pair = defaultPairs.addObject();
      pair.set("jgen", defaults);
      defaultWindow.add(defaults.get("engine_window_tokens_per_second").asDouble());
      defaultPhase.add(defaults.get("generation_phase_tokens_per_second").asDouble());
      defaultCommand.add(defaults.get("whole_command_tokens_per_second").asDouble());
      defaultTokens = defaults.get("completion_tokens").asLong();
      if (n != null) {
        pair.set("native", n);
        bestRates.add(completionRate(n));
        defaultRatios.add(defaults.get("engine_window_tokens_per_second").asDouble() / completionRate(n));
        defaultExecuteRatios.add(defaults.get("execute_tokens_per_second").asDouble() / completionRate(n));
      }
      defaultExecute.add(defaults.get("execute_tokens_per_second").asDouble());
    }
    o.put("best_native_sequences", bestNativePl);
    o.put("best_native_completion_tokens_per_second", bestNative);
    o.put("best_native_completion_tokens_per_second_median_of_pairs", median(bestRates));
    o.put("jgen_defaults_engine_window_tokens_per_second_median", median(defaultWindow));
    o.put("defaults_vs_best_native", median(defaultRatios));
    o.put("jgen_defaults_execute_tokens_per_second_median", median(defaultExecute));
    o.put("defaults_execute_vs_best_native", median(defaultExecuteRatios));
    System.out.printf(Locale.ROOT, "%-34s %5d %11s %13.1f %13s %11s %7d %9s  (runs: %s)%n", "llama-batched-bench, best, " + cores
        + " thr", bestNativePl, "-", median(bestRates), "-", "-", (long) bestNativePl * newTokens * ((rows + bestNativePl - 1) / bestNativePl), "1.00", rounded(bestRates));
    System.out.printf(Locale.ROOT, "%-34s %5s %11s %13.1f %13.1f %11.1f %7d %9.2f  (runs: %s; pair ratios %s)%n",
        "bin/jgen generate, defaults", "auto", "-", median(defaultWindow), median(defaultPhase), median(defaultCommand),
        defaultTokens, median(defaultRatios), rounded(defaultWindow), rounded(defaultRatios));
    System.out.printf(Locale.ROOT, "%-34s %5s %11s %13.1f %13s %11s %7d %9.2f  (runs: %s; pair ratios %s)%n",
        "bin/jgen generate, defaults, execute", "auto", "-", median(defaultExecute), "-", "-", defaultTokens,
        median(defaultExecuteRatios), rounded(defaultExecute), rounded(defaultExecuteRatios));
    System.out.println("labels: native rows (llama-batched-bench) generate the same number of sequences as jgen has rows, in "
        + "waves of the sequence count; decode t/s = llama-batched-bench S_TG (decode steps only); gen-phase t/s = completion "
        + "tokens over prompt + decode time: llama-batched-bench's total time over the waves (native), the engine's window from the first request sent "
        + "to the last answer read, model load excluded (jgen, from the summary's server_metrics), generation time in "
        + "process (java-llama.cpp); job-phase t/s = completion tokens over the job's generate-and-commit phase (model load "
        + "and Delta commit included); command t/s = completion tokens over the whole bin/jgen generate process; "
        + "the 'execute' row: completion tokens over the summary's seconds (the execute phase: tables, attempt, generation, "
        + "commits), in its gen-phase column; "
        + "vs native = the median of (jgen gen-phase / native gen-phase) over pairs run back to back at the same threads and "
        + "sequences (for the defaults row: against llama-batched-bench's best sequence count on every core, found by the "
        + "sweep above); figures are medians over the repeats");
    return o;
  }

  /**
   * llama-batched-bench doing the work jgen does: {@code rows} sequences in waves of {@code sequences} (one run whose
   * count list repeats the count), so a pair's native and jgen halves last about as long and share the machine's
   * drift. The result has the shape of one of its lines: {@code pl}, {@code tg}, {@code t} (the waves' total time),
   * {@code speed_tg} (decode tokens over the waves' decode time), and {@code waves}.
   */
  private static JsonNode waves(Path bin, Path gguf, Path work, int prompt, int newTokens, int threads, int sequences, int rows,
      ObjectNode o) throws Exception {
    int n = Math.max(1, (rows + sequences - 1) / sequences);
    List<Integer> counts = java.util.Collections.nCopies(n, sequences);
    List<JsonNode> lines = batchedBenchLines(bin, gguf, work, prompt, newTokens, threads, counts, o);
    // The first line is the warm-up.
    List<JsonNode> timed = lines.subList(Math.min(1, lines.size()), lines.size());
    if (timed.isEmpty()) {
      return null;
    }
    double t = 0;
    double tg = 0;
    for (JsonNode l : timed) {
      t += l.get("t").asDouble();
      tg += l.get("t_tg").asDouble();
    }
    ObjectNode r = JSON.createObjectNode();
    r.put("pl", sequences);
    r.put("waves", timed.size());
    r.put("tg", (double) newTokens * timed.size());
    r.put("t", t);
    r.put("speed_tg", sequences * (double) newTokens * timed.size() / tg);
    return r;
  }

  /** Runs llama-batched-bench at these sequence counts (after one warm-up at the first); its JSON line per count. */
  private static Map<Integer, JsonNode> batchedBench(Path bin, Path gguf, Path work, int prompt, int newTokens, int threads,
      List<Integer> sequences, ObjectNode o) throws Exception {
    Map<Integer, JsonNode> r = new LinkedHashMap<>();
    for (JsonNode n : batchedBenchLines(bin, gguf, work, prompt, newTokens, threads, sequences, o)) {
      r.put(n.get("pl").asInt(), n); // the later line of a count wins: the warm-up is dropped
    }
    return r;
  }

  /** llama-batched-bench's JSON lines, in order: the warm-up at the first count, then one per count. */
  private static List<JsonNode> batchedBenchLines(Path bin, Path gguf, Path work, int prompt, int newTokens, int threads,
      List<Integer> sequences, ObjectNode o) throws Exception {
    StringBuilder npl = new StringBuilder(String.valueOf(sequences.get(0)));
    for (int s : sequences) {
      npl.append(',').append(s);
    }
    int maxSeq = sequences.stream().mapToInt(Integer::intValue).max().orElse(1);
    List<String> cmd = List.of(bin.toString(), "-m", gguf.toString(), "-c", String.valueOf(maxSeq * (prompt + newTokens) + 256),
        "-b", "2048", "-ub", "512", "-npp", String.valueOf(prompt), "-ntg", String.valueOf(newTokens), "-npl", npl.toString(),
        "-t", String.valueOf(threads), "-tb", String.valueOf(threads), "-kvu", "--output-format", "jsonl");
    Path log = work.resolve("engine-batched-bench-" + npl.toString().replace(',', '_') + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    // The baseline as its users run it: OpenMP's own wait policy (issue 28 item 5), whatever this shell exported.
    pb.environment().remove("OMP_WAIT_POLICY");
    Process p = pb.start();
    if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IllegalStateException("llama-batched-bench failed; see " + log);
    }
    List<JsonNode> lines = new ArrayList<>();
    for (String l : Files.readAllLines(log)) {
      if (l.startsWith("{\"n_kv_max\"")) {
        lines.add(JSON.readTree(l));
      }
    }
    if (!o.has("native_command")) {
      o.put("native_command", "env -u OMP_WAIT_POLICY " + String.join(" ", cmd));
    }
    return lines;
  }

  /** The repository root: the nearest folder above the working directory that holds bin/build-native. */
  static Path repoRoot() {
    Path root = Path.of("").toAbsolutePath();
    while (root != null && !Files.isRegularFile(root.resolve("bin/build-native"))) {
      root = root.getParent();
    }
    if (root == null) {
      throw new IllegalStateException("bin/build-native not found");
    }
    return root;
  }

  /**
   * Runs one {@code bin/jgen generate} child process (native engine, no rebuild) with its output in {@code log}, and
   * returns its summary line; fails unless it exits 0 with no error rows within an hour.
   */
  static JsonNode generateSummary(List<String> cmd, Path log, String what) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("JGEN_SKIP_BUILD", "1");
    pb.environment().put("JGEN_LLAMA_IMPL", "native");
    Process p = pb.start();
    if (!p.waitFor(60, TimeUnit.MINUTES) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException(what + " failed; see " + log);
    }
    JsonNode summary = null;
    for (String l : Files.readAllLines(log)) {
      if (l.startsWith("{\"run_id\"")) {
        summary = JSON.readTree(l);
      }
    }
    if (summary == null || summary.get("error").asLong() != 0) {
      throw new IllegalStateException(what + ": no clean summary in " + log);
    }
    return summary;
  }

  static int envInt(String name, int dflt) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? dflt : Integer.parseInt(v.trim());
  }

  /** llama-batched-bench's completion tokens over its prompt + decode time: the same measure as jgen's phase. */
  private static double median(List<Double> xs) {
    if (xs.isEmpty()) {
      return Double.NaN;
    }
    List<Double> sorted = new ArrayList<>(xs);
    java.util.Collections.sort(sorted);
    int m = sorted.size() / 2;
    return sorted.size() % 2 == 1 ? sorted.get(m) : (sorted.get(m - 1) + sorted.get(m)) / 2;
  }

  private static String rounded(List<Double> xs) {
    return xs.stream().map(x -> String.format(Locale.ROOT, "%.2f", x)).collect(java.util.stream.Collectors.joining(" "));
  }

  private static double completionRate(JsonNode n) {
    return n.get("pl").asDouble() * n.get("tg").asDouble() / n.get("t").asDouble();
  }

  private static ObjectNode jgen(Path root, Path work, Path in, Path model, int threads, int parallel, int newTokens, String name)
      throws Exception {
    Path log = work.resolve("engine-" + name + ".log");
    List<String> cmd = List.of(root.resolve("bin/jgen").toString(), "generate", "--config",
        root.resolve("conf/jobs/demo.yaml").toString(), "--set", "input.path=" + in, "--set", "model.path=" + model,
        "--set", "engine.kind=llamacpp", "--set", "engine.threads=" + threads, "--set", "engine.parallel=" + parallel,
        "--set", "generation.max_new_tokens=" + newTokens, "--set", "generation.temperature=0",
        "--set", "job.chunk_rows=100000", "--set", "output.path=" + work.resolve("out-" + name + "-" + System.nanoTime()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("JGEN_SKIP_BUILD", "1");
    pb.environment().put("JGEN_LLAMA_IMPL", "native");
    pb.environment().remove("OMP_WAIT_POLICY"); // jgen's server as its users run it, like the baseline
    long t0 = System.nanoTime();
    Process p = pb.start();
    if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IllegalStateException(name + " failed; see " + log);
    }
    double wall = (System.nanoTime() - t0) / 1e9;
    String text = Files.readString(log);
    Matcher m = GENERATED.matcher(text);
    if (!m.find()) {
      throw new IllegalStateException(name + ": no summary in " + log);
    }
    JsonNode summary = null;
    for (String l : text.split("\n")) {
      if (l.startsWith("{\"run_id\"")) {
        summary = JSON.readTree(l);
      }
    }
    long tokens = summary.get("completion_tokens").asLong();
    ObjectNode r = JSON.createObjectNode();
    r.put("command", String.join(" ", cmd));
    r.put("completion_tokens", tokens);
    r.put("errors", summary.get("error").asLong());
    r.put("generation_phase_seconds", Double.parseDouble(m.group(1)));
    r.put("generation_phase_tokens_per_second", Double.parseDouble(m.group(2)));
    // The job's phase includes loading the model (the first task opens the engine); the same rate without it:
    long loadMs = summary.get("model_load_ms").asLong();
    r.put("model_load_ms", loadMs);
    r.put("generation_phase_minus_model_load_tokens_per_second", tokens / Math.max(1e-9, Double.parseDouble(m.group(1)) - loadMs / 1000.0));
    JsonNode window = null;
    for (JsonNode instance : summary.path("server_metrics")) {
      window = instance; // one engine instance per job here (local mode: the driver's JVM)
    }
    if (window == null || !window.has("generation_window_s")) {
      throw new IllegalStateException(name + ": no engine window in the summary's server_metrics; see " + log);
    }
    r.put("engine_window_seconds", window.get("generation_window_s").asDouble());
    r.put("engine_window_tokens_per_second", window.get("completion_tokens").asDouble() / window.get("generation_window_s").asDouble());
    // The execute phase: the summary's seconds (GenerateAction.execute(): tables, attempt, generation, commits).
    r.put("execute_seconds", summary.get("seconds").asDouble());
    r.put("execute_tokens_per_second", tokens / summary.get("seconds").asDouble());
    r.put("whole_command_seconds", wall);
    r.put("whole_command_tokens_per_second", tokens / wall);
    String engineLine = text.lines().filter(l -> l.contains("jgen-llama-server native")).findFirst().orElse("");
    r.put("engine", engineLine.replaceAll(".*(jgen-llama-server native[^)]*\\)).*", "$1"));
    return r;
  }

  private static ObjectNode javaLlama(Path gguf, List<PreparedPrompt> prompts, int threads, int parallel, int newTokens)
      throws Exception {
    if (System.getProperty("de.kherud.llama.tmpdir") == null) {
      // java-llama.cpp deletes llama* files in its temp folder on load: give it its own.
      System.setProperty("de.kherud.llama.tmpdir", Files.createTempDirectory("jgen-bench-jllama").toString());
    }
    LlamaModel.setLogger(LogFormat.TEXT, (level, msg) -> { });
    ModelParameters mp = new ModelParameters().setModel(gguf.toString()).setThreads(threads).setThreadsBatch(threads)
        .setParallel(parallel).setCtxSize(parallel * 1024).setBatchSize(2048);
    AtomicLong tokens = new AtomicLong();
    double seconds;
    try (LlamaModel model = new LlamaModel(mp)) {
      ExecutorService pool = Executors.newFixedThreadPool(parallel);
      AtomicInteger next = new AtomicInteger();
      long t0 = System.nanoTime();
      List<Future<?>> fs = new ArrayList<>();
      for (int w = 0; w < parallel; w++) {
        fs.add(pool.submit(() -> {
          for (int i = next.getAndIncrement(); i < prompts.size(); i = next.getAndIncrement()) {
            InferenceParameters ip = new InferenceParameters(prompts.get(i).text()).setNPredict(newTokens).setTemperature(0f)
                .setTopK(0).setTopP(1f).setMinP(0f).setRepeatPenalty(1f).setCachePrompt(false);
            for (LlamaOutput out : model.generate(ip)) {
              tokens.incrementAndGet(); // one streamed output per generated token
            }
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
      seconds = (System.nanoTime() - t0) / 1e9;
      pool.shutdown();
    }
    ObjectNode r = JSON.createObjectNode();
    r.put("api", "de.kherud:llama 4.2.0 LlamaModel.generate (llama.cpp b4916, portable AVX2), text prompts, in this JVM");
    r.put("completion_tokens", tokens.get());
    r.put("generation_seconds", seconds);
    r.put("generation_tokens_per_second", tokens.get() / seconds);
    return r;
  }

  static String git(Path root) {
    try {
      Process p = new ProcessBuilder("git", "-C", root.toString(), "rev-parse", "--short", "HEAD").start();
      String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      p.waitFor();
      return s;
    } catch (IOException | InterruptedException e) {
      return "unknown";
    }
  }

  static String cpuModel() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (l.startsWith("model name")) {
          String flags = String.join(",", Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
              .filter(x -> x.startsWith("flags")).findFirst().map(x -> {
                List<String> f = new ArrayList<>();
                for (String k : List.of("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile")) {
                  if ((" " + x + " ").contains(" " + k + " ")) {
                    f.add(k);
                  }
                }
                return f;
              }).orElse(List.of()));
          return l.substring(l.indexOf(':') + 1).trim() + " [" + flags + "]";
        }
      }
    } catch (IOException e) {
      // not Linux
    }
    return System.getProperty("os.arch");
  }

  static String now() {
    return Instant.now().toString();
  }
}
