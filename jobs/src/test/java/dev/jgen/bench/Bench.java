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
    int stepMs = 1;
    int servingRows = 0;
    List<String> servingSets = new ArrayList<>();
    int curateHeapMb = 4096;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--scenario" -> scenario = args[++i];
        case "--out" -> out = Path.of(args[++i]);
        case "--quick" -> quick = true;
        case "--step-ms" -> stepMs = Integer.parseInt(args[++i]);
        case "--rows" -> servingRows = Integer.parseInt(args[++i]);
        case "--set" -> servingSets.add(args[++i]);
        case "--heap-mb" -> curateHeapMb = Integer.parseInt(args[++i]);
        default -> {
          System.err.println("usage: jgen bench [--scenario engine|pipeline|serving|structured|curate|prefix|adapters|all] [--out FILE.json] [--quick]"
              + " [--step-ms N (serving: the stand-ins' time per generated token, default 1)] [--rows N (serving: input rows,"
              + " default 6000; curate: candidates, default 100000)] [--set KEY=VALUE (serving: a job key away from its default, printed with the figures)]"
              + " [--heap-mb N (curate: the command's -Xmx, default 4096)]");
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
        report.set("serving", serving(quick, stepMs, servingRows, servingSets));
      }
      if (scenario.equals("all") || scenario.equals("structured")) {
        report.set("structured", structured(work, quick));
      }
      if (scenario.equals("prefix")) { // not in "all": minutes of prompt processing with the cache off
        report.set("prefix", PrefixBench.run(work, quick));
      }
      if (scenario.equals("adapters")) { // not in "all": 3 x 2 runs of 1,024 rows on the 1.8b shape
        report.set("adapters", AdapterBench.run(work, quick));
      }
      if (scenario.equals("curate")) { // not in "all": its size is the caller's (--rows N, default 100000)
        report.set("curate", CurateBench.run(work, servingRows > 0 ? servingRows : 100_000, curateHeapMb));
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

  /**
   * Each measurement is a fresh {@code jgen generate} process (ChildJob: the test class path, C1 only, -Xmx1g unless
   * said), local[2], one chunk (job.chunk_rows 1000000). Two times per run, labelled: "command" is the child process
   * from start to exit (JVM start, Spark start, table creation, the job, Spark stop), "execute" is the summary's
   * {@code seconds} (GenerateAction.execute() only: tables, attempt, generation, commits, summary).
   */
  private static ObjectNode pipeline(Path work, boolean quick) throws Exception {
    ObjectNode o = JSON.createObjectNode();
    int[] sizes = quick ? new int[] {2_000, 10_000, 50_000} : new int[] {10_000, 100_000, 1_000_000};
    int largest = sizes[sizes.length - 1];
    System.out.println("== pipeline: read + render + tokenize + write around a zero-cost engine (engine.kind=echo; none = dry run),"
        + " each a fresh `jgen generate` child process, local[2], one chunk, run lock lease 15 min (-Djgen.stale_ms=900000)");
    System.out.printf("%-40s %9s %12s %12s %12s %12s%n", "run", "rows", "command s", "command r/s", "execute s", "execute r/s");
    for (int rows : sizes) {
      o.set("echo_" + rows, child(work, "echo-" + rows, syntheticInput(work, rows), "echo", 0, 1024));
    }
    o.set("none_" + largest, child(work, "none (dry run)-" + largest, syntheticInput(work, largest), "none", 0, 1024));
    // One partition holding every row in a 512 MiB heap: completing at all shows the rows stream through the task (the
    // retained memory stays below the limit); a collecting partition would fail with OutOfMemoryError.
    o.set("echo_" + largest + "_one_partition_xmx512m",
        child(work, "echo-" + largest + "-one-partition-Xmx512m", syntheticInput(work, largest), "echo", 1, 512));
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

  private static JsonNode child(Path work, String name, Path in, String engine, int partitions, int heapMb) throws Exception {
    Path log = work.resolve(name.replaceAll("[^A-Za-z0-9._-]", "_") + ".log");
    long t0 = System.nanoTime();
    // The run lock's lease is raised for these runs (JAVA_TOOL_OPTIONS, printed with the table), as in the run behind
    // the README's figures: the heartbeat was then a Delta commit that waited for a task slot, and a million rows on two
    // slots held both for longer than the 50 s lease. It is a file now, which needs no slot.
    Process p = ChildJob.start(log, null, Map.of("JAVA_TOOL_OPTIONS", "-Djgen.stale_ms=900000"), heapMb, "generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + work.resolve("out-" + System.nanoTime()),
        "--set", "engine.kind=" + engine, "--set", "spark.master=local[2]", "--set", "job.chunk_rows=1000000",
        "--set", "job.partitions=" + partitions, "--set", "spark.conf.spark.sql.shuffle.partitions=4");
    if (!p.waitFor(60, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IllegalStateException(name + " failed; see " + log);
    }
    double command = (System.nanoTime() - t0) / 1e9;
    List<String> lines = Files.readAllLines(log);
    ObjectNode s = null;
    for (int i = lines.size() - 1; i >= 0 && s == null; i--) {
      if (lines.get(i).startsWith("{\"run_id\"")) {
        s = (ObjectNode) JSON.readTree(lines.get(i));
      }
    }
    if (s == null) {
      throw new IllegalStateException(name + ": no summary line in " + log);
    }
    s.put("command_seconds", command);
    s.put("heap_limit_mb", heapMb);
    long rows = s.get("rows_in").asLong();
    System.out.printf(Locale.ROOT, "%-40s %9d %12.1f %12.0f %12.1f %12.0f%n", name, rows, command, rows / command,
        s.get("seconds").asDouble(), rate(s));
    return s;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // serving: the DJL Serving stand-in (continuous batching, fixed step time) behind the whole job

  /**
   * @param stepMs the stand-ins' time per generated token: 1 is the scenario; a larger one asks the client for
   *     proportionally fewer rows per second (on a 2-core machine the client and both stand-ins share the cores), which
   *     shows whether the run engine itself leaves slots idle
   */
  private static ObjectNode serving(boolean quick, int stepMs, int rowsAsked, List<String> sets) throws Exception {
    int rows = rowsAsked > 0 ? rowsAsked : quick ? 2000 : 6000;
    System.out.println("== serving: the whole `jgen generate` command's job (in this JVM, local Spark, Delta commits) against 2 DJL"
        + " Serving stand-ins of 128 slots each, " + stepMs + " ms per generated token, output lengths uniform over 1..512 tokens, " + rows
        + " rows, " + (sets.isEmpty() ? "default job settings" : "job settings at their defaults except " + sets) + "; busy fraction = slot-steps that emitted a token / slot-steps available, counted by"
        + " each server from its first request to its last answer");
    ServingBench.ClusterResult r = ServingBench.runCluster(rows, 2, 128, stepMs, 1, 512, sets);
    for (int i = 0; i < r.perServer().size(); i++) {
      ServingBench.ServerFigures f = r.perServer().get(i);
      System.out.printf(Locale.ROOT, "server %d: busy fraction %.4f (slot-steps %d/%d), avg in flight %.1f, max %d, %d answers;"
          + " before the final drain %.4f (the last %d steps after the last request arrived)%n", i,
          f.busyFraction(), f.slotStepsUsed(), f.slotStepsAvailable(), f.avgInFlight(), f.maxInFlight(), f.completed(),
          f.busyBeforeDrain(), f.drainSteps());
      System.out.println("  busy % per 100 steps: " + f.busyPercentPer100Steps());
    }
    System.out.printf(Locale.ROOT, "overall busy fraction %.4f (goal >= 0.95); command wall time %.1f s; %s%n", r.busyFraction(),
        r.jobSeconds(), r.settings());
    System.out.printf(Locale.ROOT, "zero-latency reference on these rows: %.4f (every freed slot refilled the same step with the"
        + " next row in input order, counted the same way; what it loses is the end of the input; jgen's default order,"
        + " largest max_new_tokens first over a read-ahead (job.longest_first), can land above it); measured / reference %.4f%n", r.zeroLatencyReference(), r.busyFraction() / r.zeroLatencyReference());
    return JSON.valueToTree(r);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // structured (issue 13): the embedded engine with and without conf/jobs/structured.yaml's JSON schema

  /**
   * Two measurements, both in this JVM on the tiny model, the model loaded and warmed before any timing:
   * <ol>
   *   <li>engine: the bare llama.cpp engine, all prompts submitted at once, from the first submit to the last completion
   *       (llama.cpp's grammar sampling included; no Spark, no validation), then the JVM-side validation of the
   *       constrained outputs timed alone;
   *   <li>job: GenerateAction on the same rows, its generate-and-commit phase only (render, tokenize, engine, per-row
   *       validation, Delta commit; Spark start, model load and the input read excluded).
   * </ol>
   * A random model never ends a string by itself, so unconstrained rows run to max_new_tokens while constrained ones end
   * with the record: the unconstrained run therefore gets max_new_tokens = the constrained run's mean completion length,
   * and both rows/s and tokens/s are reported.
   */
  private static ObjectNode structured(Path work, boolean quick) throws Exception {
    ObjectNode o = JSON.createObjectNode();
    int rows = quick ? 32 : 128;
    List<String> source = Files.readAllLines(TestFiles.conf().resolve("data/structured-prompts.jsonl"));
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      lines.add(source.get(i % source.size()).replaceFirst("\"id\": \"([^\"]+)\"", "\"id\": \"$1-" + i + "\""));
    }
    Path in = TestFiles.jsonl(work, "structured-" + rows + ".jsonl", lines);
    Map<String, Object> yaml = ConfigLoader.load(TestFiles.conf().resolve("jobs/structured.yaml"), List.of()).asMap();
    Object schema = yaml.get("generation.json_schema");
    int maxNew = (Integer) yaml.get("generation.max_new_tokens");
    System.out.println("== structured: tiny model, engine.threads=1, parallel 2, " + rows + " rows of conf/data/structured-prompts.jsonl, "
        + "schema of conf/jobs/structured.yaml (this JVM; model loaded and warmed first)");
    System.out.printf("%-58s %6s %8s %9s %9s %10s%n", "measurement", "rows", "tok/row", "seconds", "rows/s", "tok/s");

    GenerateJob constrained = structuredJob(work, in, schema, maxNew, "schema");
    ObjectNode engineSchema = structuredEngine(constrained, lines, maxNew, true, "engine only, with schema (max_new_tokens " + maxNew + ")");
    int mean = (int) Math.max(1, Math.round(engineSchema.get("tokens_per_row").asDouble()));
    GenerateJob plain = structuredJob(work, in, null, mean, "plain");
    ObjectNode enginePlain = structuredEngine(plain, lines, mean, false, "engine only, no schema (max_new_tokens " + mean + " = mean)");
    o.set("engine_with_schema", engineSchema);
    o.set("engine_without_schema", enginePlain);
    o.put("engine_rows_per_second_ratio", engineSchema.get("rows_per_second").asDouble() / enginePlain.get("rows_per_second").asDouble());
    o.put("engine_tokens_per_second_ratio",
        engineSchema.get("tokens_per_second").asDouble() / enginePlain.get("tokens_per_second").asDouble());

    // The first GenerateAction of a JVM pays Spark's and Delta's first-use costs: a warm-up run takes them, unreported.
    structuredRun(structuredJob(work, in, null, 8, "warm"), "(warm-up job, max_new_tokens 8, not compared)");
    ObjectNode jobSchema = structuredRun(constrained, "job generate+commit phase, with schema");
    ObjectNode jobPlain = structuredRun(plain, "job generate+commit phase, no schema (max_new_tokens = mean)");
    o.set("job_with_schema", jobSchema);
    o.set("job_without_schema", jobPlain);
    o.put("job_rows_per_second_ratio", jobSchema.get("rows_per_second").asDouble() / jobPlain.get("rows_per_second").asDouble());
    System.out.printf(Locale.ROOT, "with/without schema: engine %.2fx rows/s (%.2fx tok/s); job %.2fx rows/s; validation %.3f ms/row%n",
        o.get("engine_rows_per_second_ratio").asDouble(), o.get("engine_tokens_per_second_ratio").asDouble(),
        o.get("job_rows_per_second_ratio").asDouble(), engineSchema.get("validation_ms_per_row").asDouble());
    EngineRegistry.closeAll();
    return o;
  }

  private static GenerateJob structuredJob(Path work, Path in, Object schema, int maxNew, String name) {
    Map<String, Object> settings = new LinkedHashMap<>();
    settings.put("input.path", in.toString());
    settings.put("model.id", "tiny-llama-ja");
    settings.put("engine.kind", "llamacpp");
    settings.put("engine.threads", 1);
    settings.put("engine.parallel", 2);
    settings.put("generation.max_new_tokens", maxNew);
    settings.put("generation.temperature", 0.7);
    settings.put("generation.seed", 42);
    if (schema != null) {
      settings.put("generation.json_schema", schema);
    }
    settings.put("output.path", work.resolve("structured-out-" + name + "-" + System.nanoTime()).toString());
    settings.put("job.chunk_rows", 100000);
    return GenerateJob.prepare(ConfigLoader.fromMap(settings), TestFiles.conf());
  }

  private static ObjectNode structuredEngine(GenerateJob job, List<String> lines, int maxNew, boolean validate, String label)
      throws IOException {
    Engine engine = EngineRegistry.shared(job.engine());
    PromptTranslator translator = PromptTranslator.shared(job.prompts());
    dev.jgen.structured.OutputConstraint constraint = job.generation().constraint();
    List<int[]> ids = new ArrayList<>();
    for (String l : lines) {
      JsonNode row = JSON.readTree(l);
      ids.add(translator.prepare(ChatInput.ofPrompt(row.get("prompt").asText()), maxNew).tokenIds());
    }
    List<SamplingParams> params = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      params.add(job.generation().resolve(Map.of(), "s" + i, 0));
    }
    engine.submit(new CompletionRequest("warm", "", ids.get(0), params.get(0), constraint)).join();
    long t0 = System.nanoTime();
    List<CompletableFuture<Completion>> futures = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      futures.add(engine.submit(new CompletionRequest("s" + i, "", ids.get(i), params.get(i), constraint)));
    }
    List<Completion> done = futures.stream().map(CompletableFuture::join).toList();
    double seconds = (System.nanoTime() - t0) / 1e9;
    long tokens = done.stream().mapToLong(Completion::completionTokens).sum();
    ObjectNode o = JSON.createObjectNode();
    o.put("rows", done.size());
    o.put("max_new_tokens", maxNew);
    o.put("tokens", tokens);
    o.put("tokens_per_row", (double) tokens / done.size());
    o.put("seconds", seconds);
    o.put("rows_per_second", done.size() / seconds);
    o.put("tokens_per_second", tokens / seconds);
    if (validate) {
      // The first validation compiles the schema (cached per JVM): keep it out of the per-row figure.
      dev.jgen.structured.OutputValidator.validate(constraint, done.get(0).text(), done.get(0).finishReason());
      long v0 = System.nanoTime();
      int valid = 0;
      for (Completion c : done) {
        valid += dev.jgen.structured.OutputValidator.validate(constraint, c.text(), c.finishReason()).ok() ? 1 : 0;
      }
      o.put("validation_ms_per_row", (System.nanoTime() - v0) / 1e6 / done.size());
      o.put("valid_rows", valid);
    }
    System.out.printf(Locale.ROOT, "%-58s %6d %8.1f %9.2f %9.1f %10.1f%n", label, done.size(), (double) tokens / done.size(), seconds,
        done.size() / seconds, tokens / seconds);
    return o;
  }

  private static ObjectNode structuredRun(GenerateJob job, String label) {
    GenerateResult r = GenerateAction.of(TestSpark.get(), job).progress(null, java.time.Duration.ofSeconds(60)).execute();
    ObjectNode o = JSON.createObjectNode();
    o.put("rows", r.generatedNow());
    o.put("ok", r.ok());
    o.put("error", r.error());
    o.put("tokens", r.completionTokensNow());
    o.put("generation_seconds", r.generationSeconds());
    o.put("rows_per_second", r.generatedNow() / r.generationSeconds());
    o.put("tokens_per_second", r.completionTokensPerSecond());
    System.out.printf(Locale.ROOT, "%-58s %6d %8.1f %9.2f %9.1f %10.1f%n", label, r.generatedNow(),
        (double) r.completionTokensNow() / r.generatedNow(), r.generationSeconds(), r.generatedNow() / r.generationSeconds(),
        r.completionTokensPerSecond());
    return o;
  }

  private static String machine() {
    return Runtime.getRuntime().availableProcessors() + " cores, " + (Runtime.getRuntime().maxMemory() >> 20) + " MB max heap, "
        + System.getProperty("os.name") + " " + System.getProperty("os.arch");
  }
}
