package dev.jgen.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.catalog.ModelCatalog;
import dev.jgen.catalog.ModelEntry;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKey;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.ConfigLoader;
import dev.jgen.config.JobConfig;
import dev.jgen.delta.RefusedException;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.eval.ExportJudgments;
import dev.jgen.eval.ExportMtBenchAnswers;
import dev.jgen.eval.GenerateJudgments;
import dev.jgen.eval.JudgeScores;
import dev.jgen.eval.JudgmentResult;
import dev.jgen.eval.GenerateMtBenchAnswers;
import dev.jgen.eval.GenerateSelfChat;
import dev.jgen.eval.MtBenchResult;
import dev.jgen.eval.SelfChatResult;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.spark.GenerateAction;
import dev.jgen.spark.GenerateJob;
import dev.jgen.spark.GenerateResult;
import dev.jgen.spark.LockLostException;
import dev.jgen.generate.RunFailedException;
import dev.jgen.spark.SparkSessions;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.SparkSession;

/**
 * {@code jgen <command>}: the same entry point for {@code bin/jgen} and {@code spark-submit --class dev.jgen.cli.Main}.
 * Exit codes: 0 done (error rows are counted, not fatal), 1 refusal (another job holds or claimed the run, a foreign
 * table: "jgen: refused: ...") or an unexpected failure ("jgen: failed: ...", the stack trace with --verbose), 2 usage or configuration error (before Spark starts), 3 run error (the run stopped on a systemic fault: the
 * engine, the tokenizer or jgen itself; see {@code job.max_failure_rate}), 4 the run's lock was lost.
 */
public final class Main {
  /** The run stopped on a systemic fault; committed rows stay and the same command resumes. */
  public static final int EXIT_RUN_ERROR = 3;
  /** The run's lock could not be renewed or was taken over; the job stopped before another could write its rows. */
  public static final int EXIT_LOCK_LOST = 4;
  private static final ObjectMapper JSON = new ObjectMapper();

  private Main() {}

  public static void main(String[] argv) {
    int code = 1;
    try {
      code = run(argv, System.out, System.err);
    } catch (RuntimeException | Error e) {
      System.err.println("jgen: failed: " + e);
      e.printStackTrace();
    } finally {
      // Every exit path releases the engines (native memory, launched servers) and Spark: under spark-submit nothing
      // else stops the context, and a lingering one would keep the driver (and its executors) up.
      EngineRegistry.closeAll();
      SparkSession.getActiveSession().foreach(s -> {
        s.stop();
        return null;
      });
    }
    if (code != 0 || !isSparkSubmit()) {
      System.exit(code);
    }
  }

  /** Runs one command; returns the exit code. */
  public static int run(String[] argv, PrintStream out, PrintStream err) {
    HeapAfterGc.watch();
    // batchio: --verbose (any position) shows llama.cpp's own log, which jgen keeps at DEBUG (LlamaCppLogging).
    boolean verbose = java.util.Arrays.asList(argv).contains("--verbose");
    if (verbose) {
      argv = java.util.Arrays.stream(argv).filter(x -> !x.equals("--verbose")).toArray(String[]::new);
      verbose();
    }
    if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help") || argv[0].equals("-h")) {
      out.print(USAGE);
      return argv.length == 0 ? 2 : 0;
    }
    try {
      return switch (argv[0]) {
        case "generate" -> generate(argv, out, err, false);
        case "demo" -> generate(argv, out, err, true);
        case "tiny-model" -> tinyModel(argv, out);
        case "models" -> models(argv, out);
        case "runs" -> InspectCommands.runs(argv, out);
        case "export" -> export(argv, out);
        case "scores" -> scores(argv, out);
        case "show" -> InspectCommands.show(argv, out);
        case "report" -> report(argv, out);
        case "render" -> RenderCommand.run(Args.parse(argv, 1, Set.of("model", "model-dir", "in", "out", "conf-dir",
            "special-tokens-in-content"), Set.of()), confDir(null), out, err);
        default -> throw new Args.UsageException("unknown command '" + argv[0] + "'");
      };
    } catch (Args.UsageException e) {
      err.println("jgen: " + e.getMessage() + " (jgen help lists the commands)");
      return 2;
    } catch (ConfigException e) {
      err.println("jgen: config error: " + e.getMessage());
      return 2;
    } catch (RunFailedException e) {
      // A systemic fault (engine, tokenizer, jgen itself): committed rows stay; the same command resumes once fixed.
      err.println("jgen: run stopped: " + e.getMessage() + "; rows committed before stay, and the same command resumes the run "
          + "once the cause is fixed");
      return EXIT_RUN_ERROR;
    } catch (LockLostException e) {
      err.println("jgen: " + e.getMessage());
      return EXIT_LOCK_LOST;
    } catch (RefusedException e) {
      // Refusals that protect data (another job on the run, a foreign table): the message says what to do.
      err.println("jgen: refused: " + e.getMessage());
      return 1;
    } catch (Exception e) {
      // Anything else is a failure with a cause to find (a failed Spark job, a Delta error, a bug of jgen's): its class
      // and message always, the stack trace with --verbose. Exception, not RuntimeException: Spark's AnalysisException
      // and Hadoop's IOExceptions are checked exceptions that Scala code throws undeclared.
      err.println("jgen: failed: " + describe(e));
      if (verbose) {
        e.printStackTrace(err);
      } else {
        err.println("jgen: (--verbose prints the stack trace)");
      }
      return 1;
    }
  }

  /** An exception and its causes in one line: each distinct message once, with the class of the first. */
  static String describe(Throwable e) {
    StringBuilder b = new StringBuilder(e.getClass().getName());
    String last = null;
    for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
      String m = c.getMessage();
      if (m != null && !m.isBlank() && (last == null || !last.contains(m))) {
        b.append(last == null ? ": " : "; caused by " + c.getClass().getSimpleName() + ": ").append(firstLine(m));
        last = m;
      }
    }
    return b.toString();
  }

  private static String firstLine(String m) {
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }

  /** jgen report --output TABLE [--run ID] --to report.html: one self-contained HTML file on how the run went. */
  private static int report(String[] argv, PrintStream out) {
    Args a = Args.parse(argv, 1, Set.of("output", "run", "to"), Set.of());
    if (a.get("output") == null || a.get("to") == null) {
      throw new Args.UsageException("report needs --output TABLE and --to FILE.html (and --run ID; default: the latest run)");
    }
    SparkSession spark = SparkSessions.forReading("jgen-report");
    spark.sparkContext().setLogLevel("WARN");
    try {
      dev.jgen.report.RunReport.Result r = dev.jgen.report.RunReport.write(spark, a.get("output"), a.get("run"), Path.of(a.get("to")));
      out.printf(Locale.ROOT, "jgen: report of run %s (%d rows, %d charts): %s%n", r.runId(), r.rows(), r.charts().size(), r.file());
      return 0;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The native log's logger to DEBUG in this JVM (local runs: driver and executor are this JVM). */
  private static void verbose() {
    // log4j-core is Spark's runtime dependency, not a compile one: reached by name.
    try {
      Class<?> level = Class.forName("org.apache.logging.log4j.Level");
      Class.forName("org.apache.logging.log4j.core.config.Configurator").getMethod("setLevel", String.class, level)
          .invoke(null, dev.jgen.engine.llamacpp.LlamaCppLogging.LOGGER, level.getField("DEBUG").get(null));
    } catch (ReflectiveOperationException | LinkageError e) {
      // Another logging back end than Spark's log4j2: its own configuration decides.
    }
  }

  private static int generate(String[] argv, PrintStream out, PrintStream err, boolean demo) {
    Args a = Args.parse(argv, 1, Set.of("config", "conf-dir"), Set.of("retry-errors", "help"));
    if (a.flag("help")) {
      out.print(configHelp());
      return 0;
    }
    Path confDir = confDir(a.get("conf-dir"));
    String configFile = a.get("config");
    if (demo && configFile == null) {
      configFile = confDir.resolve("jobs/demo.yaml").toString();
    }
    if (configFile == null) {
      throw new Args.UsageException("generate needs --config FILE");
    }
    JobConfig config = ConfigLoader.load(Path.of(configFile), a.sets);
    if (config.string(ConfigKeys.JOB_KIND).equals("curate")) {
      return CurateCommands.curate(config, out, err);
    }
    GenerateJob job = GenerateJob.prepare(config, confDir);
    // The judge prompts are checked before Spark starts: a prompt lacking a placeholder is a config error (exit 2).
    dev.jgen.eval.JudgePrompts judgePrompts = config.string(ConfigKeys.JOB_KIND).equals("judge")
        ? GenerateJudgments.prompts(job, confDir) : null;
    // Magpie's pre-query prompt and the scoring rubric and source table too: config errors, before Spark starts.
    if (config.string(ConfigKeys.JOB_KIND).equals("magpie")) {
      dev.jgen.eval.GenerateMagpie.check(job);
    }
    dev.jgen.eval.GenerateScores.Setup scoreSetup = config.string(ConfigKeys.JOB_KIND).equals("score")
        ? dev.jgen.eval.GenerateScores.prepare(job, confDir) : null;
    SparkSession spark = SparkSessions.create(config);
    spark.sparkContext().setLogLevel("WARN");
    err.printf("jgen: run %s: model %s (template %s, %s), input %s, output %s%n", job.runId(), job.model().modelId(),
        job.prompts().templateSha256().substring(0, 12), job.prompts().templateOrigin(), config.string(ConfigKeys.INPUT_PATH),
        config.string(ConfigKeys.OUTPUT_PATH));
    switch (config.string(ConfigKeys.JOB_KIND)) {
      case "mtbench" -> {
        MtBenchResult m = GenerateMtBenchAnswers.of(spark, job).progress(err).retryErrors(a.flag("retry-errors")).execute();
        out.printf(Locale.ROOT, "jgen: MT-Bench run %s attempt %d: %d questions x %d choices -> %d ok, %d error; table %s%n"
            + "jgen: export for FastChat's judge: jgen export mtbench --output %s --run %s --to DIR%n", m.runId(), m.attempt(),
            m.questions(), m.choices(), m.ok(), m.error(), m.output(), m.output(), m.runId());
        printJson(out, m, m.promptTokens(), m.completionTokens());
        return 0;
      }
      case "selfchat" -> {
        SelfChatResult c = GenerateSelfChat.of(spark, job).progress(err).retryErrors(a.flag("retry-errors")).execute();
        out.printf(Locale.ROOT, "jgen: self-chat run %s attempt %d: %d dialogues of %d turns -> %d ok, %d error; table %s%n",
            c.runId(), c.attempt(), c.rowsIn(), c.turns(), c.ok(), c.error(), c.output());
        printJson(out, c, 0, c.completionTokensNow());
        return 0;
      }
      case "judge" -> {
        JudgmentResult j = GenerateJudgments.of(spark, job, judgePrompts).progress(err).retryErrors(a.flag("retry-errors")).execute();
        out.printf(Locale.ROOT, "jgen: judge run %s attempt %d (judge %s): %d judgments -> %d ok (%d without a rating: score -1), "
            + "%d error; table %s%n"
            + "jgen: scores: jgen scores --output %s --run %s; FastChat file: jgen export judgment --output %s --run %s --to DIR%n",
            j.runId(), j.attempt(), j.judge(), j.rowsIn(), j.ok(), j.failedRatings(), j.error(), j.output(), j.output(), j.runId(),
            j.output(), j.runId());
        if (j.error() > 0) {
          out.printf("jgen: see the errors with: jgen show --output %s --run %s --status error%n", j.output(), j.runId());
        }
        printJson(out, j, 0, j.completionTokensNow());
        return 0;
      }
      case "magpie", "score" -> {
        dev.jgen.eval.SyntheticResult x = config.string(ConfigKeys.JOB_KIND).equals("magpie")
            ? dev.jgen.eval.GenerateMagpie.of(spark, job).progress(err).retryErrors(a.flag("retry-errors")).execute()
            : dev.jgen.eval.GenerateScores.of(spark, scoreSetup.job(), scoreSetup).progress(err).retryErrors(a.flag("retry-errors")).execute();
        out.printf(Locale.ROOT, "jgen: %s run %s attempt %d: %d rows -> %d ok, %d error; %d generated now in %.1f s; table %s%n",
            x.kind(), x.runId(), x.attempt(), x.rowsIn(), x.ok(), x.error(), x.generatedNow(), x.seconds(), x.output());
        if (x.error() > 0) {
          out.printf("jgen: see the errors with: jgen show --output %s --run %s --status error%n", x.output(), x.runId());
        }
        printJson(out, x, x.promptTokensNow(), x.completionTokensNow());
        return 0;
      }
      default -> {
        // job.kind=generate, below
      }
    }
    GenerateResult r = GenerateAction.of(spark, job).progress(err, Duration.ofSeconds(5)).retryErrors(a.flag("retry-errors")).execute();
    if (demo) {
      out.println("A few rows of the table (the demo model has random weights: its text is noise):");
      spark.read().format("delta").load(r.output()).where("run_id = '" + r.runId() + "'")
          .selectExpr("id", "status", "prompt_tokens", "completion_tokens", "finish_reason", "substr(output_text, 1, 40) AS output_text")
          .orderBy("id").show(5, false);
    }
    printSummary(r, out);
    return 0;
  }

  static void printSummary(GenerateResult r, PrintStream out) {
    out.printf(Locale.ROOT, "jgen: run %s attempt %d: %d rows in (x%d samples) -> %d ok, %d error%s; %d generated now in %.1f s "
            + "(%.1f completion tok/s); table %s%n",
        r.runId(), r.attempt(), r.rowsIn(), r.samplesPerRow(), r.ok(), r.error(),
        r.skipped() > 0 ? ", " + r.skipped() + " skipped (duplicates, see duplicate_of)" : "", r.generatedNow(), r.generationSeconds(),
        r.completionTokensPerSecond(), r.output());
    if (r.reused() > 0) {
      out.printf(Locale.ROOT, "jgen: %d (row, sample) pairs reused from earlier runs' identical requests (see reused_from; job.reuse=false generates them)%n",
          r.reused());
    }
    if (r.stoppedBy() != null) {
      out.printf(Locale.ROOT, "jgen: stopped by the %s: %d (row, sample) pairs left; the same command continues the run%n",
          r.stoppedBy(), r.left());
    }
    for (Map.Entry<String, Long> w : r.warnings().entrySet()) {
      out.printf("jgen: warning (%d rows): %s%n", w.getValue(), w.getKey());
    }
    if (r.missingFromInput() > 0) {
      out.printf("jgen: warning: %d rows of the run are no longer in the input (kept in the table)%n", r.missingFromInput());
    }
    if (r.error() > 0) {
      out.printf("jgen: see the errors with: jgen show --output %s --run %s --status error%n", r.output(), r.runId());
    }
    ObjectNode o = JSON.createObjectNode();
    o.put("run_id", r.runId());
    o.put("rows_in", r.rowsIn());
    o.put("ok", r.ok());
    o.put("error", r.error());
    o.put("output", r.output());
    o.put("prompt_tokens", r.promptTokens());
    o.put("skipped", r.skipped());
    o.put("completion_tokens", r.completionTokens());
    o.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
    o.put("attempt", r.attempt());
    o.put("samples_per_row", r.samplesPerRow());
    o.put("generated_now", r.generatedNow());
    o.put("reused", r.reused());
    // Prompt tokens the engines took from their prefix caches (null: no engine reported it).
    o.put("cached_tokens", r.cachedTokens());
    o.put("missing_from_input", r.missingFromInput());
    o.put("model_load_ms", r.modelLoadMs());
    // Memory, each figure named for what it is: the JVM's heap right after a collection at its highest (the live data
    // the job kept; in local mode the driver is also the executor), and the engine processes' peak resident memory.
    o.put("jvm_peak_heap_after_gc_mb", HeapAfterGc.peakMb());
    double engineRss = r.serverMetrics().values().stream().mapToDouble(m -> m.getOrDefault("peak_rss_mb", 0.0)).sum();
    if (engineRss > 0) {
      o.put("engine_peak_rss_mb", Math.round(engineRss));
    }
    o.put("warnings", r.warnings().size());
    if (r.stoppedBy() != null) {
      // A budget or deadline ended the attempt early: what finished is committed; the same command continues.
      o.put("stopped_by", r.stoppedBy());
      o.put("left", r.left());
    }
    if (!r.serverMetrics().isEmpty()) {
      o.set("server_metrics", JSON.valueToTree(r.serverMetrics()));
    }
    out.println(o.toString());
  }

  /**
   * The summary line of the evaluation jobs: the same keys as generate's, {@code stopped_by} and {@code left} included
   * when a budget or deadline ended the attempt early (then a line before it says so).
   */
  private static void printJson(PrintStream out, dev.jgen.eval.DialogueResult r, long promptTokens, long completionTokens) {
    if (r.stoppedBy() != null) {
      out.printf(Locale.ROOT, "jgen: stopped by the %s: %d conversations left; the same command continues the run%n",
          r.stoppedBy(), r.left());
    }
    ObjectNode o = JSON.createObjectNode();
    o.put("run_id", r.runId());
    o.put("rows_in", r.rowsIn());
    o.put("ok", r.ok());
    o.put("error", r.error());
    o.put("output", r.output());
    o.put("prompt_tokens", promptTokens);
    o.put("completion_tokens", completionTokens);
    o.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
    if (r.stoppedBy() != null) {
      o.put("stopped_by", r.stoppedBy());
      o.put("left", r.left());
    }
    out.println(o.toString());
  }

  private static int export(String[] argv, PrintStream out) {
    if (argv.length >= 2 && (argv[1].equals("sft") || argv[1].equals("dpo"))) {
      return CurateCommands.export(argv, out);
    }
    // batchio: export openai-batch (OpenAI Batch output + error files).
    if (argv.length >= 2 && argv[1].equals("openai-batch")) {
      Args a = Args.parse(argv, 2, Set.of("output", "run", "to", "errors"), Set.of());
      if (a.get("output") == null || a.get("to") == null) {
        throw new Args.UsageException("export openai-batch needs --output PATH and --to FILE");
      }
      SparkSession spark = SparkSessions.forReading("jgen-export");
      spark.sparkContext().setLogLevel("WARN");
      try {
        dev.jgen.export.ExportOpenAiBatch.Result r = dev.jgen.export.ExportOpenAiBatch.export(spark, a.get("output"), a.get("run"),
            Path.of(a.get("to")), a.get("errors") == null ? null : Path.of(a.get("errors")));
        out.printf("jgen: exported run %s: %d requests -> %d results in %s, %d errors in %s%n", r.runId(), r.requests(),
            r.succeeded(), r.results(), r.failed(), r.errors());
        return 0;
      } catch (IllegalArgumentException e) {
        throw new Args.UsageException(e.getMessage());
      }
    }
    if (argv.length >= 2 && argv[1].equals("judgment")) {
      Args a = Args.parse(argv, 2, Set.of("output", "run", "to"), Set.of());
      if (a.get("output") == null || a.get("to") == null) {
        throw new Args.UsageException("export judgment needs --output PATH and --to DIR");
      }
      SparkSession spark = SparkSessions.forReading("jgen-export");
      spark.sparkContext().setLogLevel("WARN");
      try {
        ExportJudgments.Result r = ExportJudgments.of(spark, a.get("output")).run(a.get("run")).to(Path.of(a.get("to"))).execute();
        out.printf("jgen: exported %d of %d judgments of run %s (judge %s; %d without a rating, score -1) to %s%n", r.exported(),
            r.judgments(), r.runId(), r.judge(), r.failedRatings(), r.file());
        r.leftOut().forEach((q, why) -> out.printf("jgen: left out %s: %s%n", q, why));
        return 0;
      } catch (IllegalArgumentException e) {
        throw new Args.UsageException(e.getMessage());
      }
    }
    if (argv.length < 2 || !argv[1].equals("mtbench")) {
      throw new Args.UsageException("export: `export mtbench --output PATH [--run ID] --to DIR [--model-id NAME]`, "
          + "`export judgment --output PATH [--run ID] --to DIR` or "
          + "`export openai-batch --output PATH [--run ID] --to FILE [--errors FILE]`, "
          + "`export sft --output CURATED [--run ID] --to DIR [--format messages|sharegpt|alpaca] [--parquet]` or "
          + "`export dpo --output CURATED [--run ID] --to DIR [--min-margin X] [--parquet]`");
    }
    Args a = Args.parse(argv, 2, Set.of("output", "run", "to", "model-id"), Set.of());
    if (a.get("output") == null || a.get("to") == null) {
      throw new Args.UsageException("export mtbench needs --output PATH and --to DIR");
    }
    SparkSession spark = SparkSessions.forReading("jgen-export");
    spark.sparkContext().setLogLevel("WARN");
    try {
      ExportMtBenchAnswers.Result r = ExportMtBenchAnswers.of(spark, a.get("output")).run(a.get("run")).to(Path.of(a.get("to")))
          .modelId(a.get("model-id")).execute();
      out.printf("jgen: exported %d of %d questions of run %s to %s%n", r.exported(), r.questions(), r.runId(), r.file());
      r.leftOut().forEach((q, why) -> out.printf("jgen: left out question %s: %s%n", q, why));
      return 0;
    } catch (IllegalArgumentException e) {
      throw new Args.UsageException(e.getMessage());
    }
  }

  /**
   * {@code jgen scores}: the model cards' MT-Bench tables from judgment tables (each run a judge run) or FastChat
   * single-judgment files (each file a judge run).
   */
  private static int scores(String[] argv, PrintStream out) {
    Args a = Args.parse(argv, 1, Set.of("output", "run", "judgments", "questions", "format"), Set.of("normalize"));
    String format = a.options.getOrDefault("format", "text");
    if (!List.of("text", "json", "csv").contains(format)) {
      throw new Args.UsageException("--format: one of text | json | csv");
    }
    List<String> runs = a.all("run");
    List<String> files = new java.util.ArrayList<>(a.all("judgments"));
    if (!files.isEmpty()) {
      files.addAll(a.positional); // --judgments a.jsonl b.jsonl: each file a judge run
    }
    if ((a.get("output") == null) == files.isEmpty()) {
      throw new Args.UsageException("scores needs --output TABLE [--run ID ...] (a job.kind=judge table) or --judgments FILE ... "
          + "(FastChat model_judgment/*_single.jsonl; --questions FILE adds categories)");
    }
    List<JudgeScores.Run> data = new java.util.ArrayList<>();
    try {
      if (a.get("output") != null) {
        SparkSession spark = SparkSessions.forReading("jgen-scores");
        spark.sparkContext().setLogLevel("WARN");
        data.addAll(JudgeScores.fromTable(spark, a.get("output"), runs));
      } else {
        Map<String, String> categories = a.get("questions") == null ? null : JudgeScores.categories(Path.of(a.get("questions")));
        for (String f : files) {
          data.add(JudgeScores.fromFile(Path.of(f), categories));
        }
      }
    } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
      throw new Args.UsageException(e.getMessage());
    }
    JudgeScores.Report report = JudgeScores.compute(data, a.flag("normalize"));
    out.print(switch (format) {
      case "json" -> JudgeScores.json(report) + "\n";
      case "csv" -> JudgeScores.csv(report);
      default -> JudgeScores.text(report);
    });
    return 0;
  }

  private static int tinyModel(String[] argv, PrintStream out) throws ConfigException {
    Args a = Args.parse(argv, 1, Set.of("out", "shape", "eos-scale", "lora"), Set.of());
    if (a.get("out") == null) {
      throw new Args.UsageException("tiny-model needs --out DIR");
    }
    String shape = a.options.getOrDefault("shape", "tiny");
    TinyModelSpec spec = switch (shape) {
      case "tiny" -> TinyModelSpec.tiny();
      case "llm-jp-3-1.8b" -> TinyModelSpec.llmJp3_1_8bShape();
      default -> throw new Args.UsageException("--shape: one of tiny | llm-jp-3-1.8b");
    };
    // --- tiny-model --eos-scale (issue 17): a model that can stop on EOS ---
    if (a.get("eos-scale") != null) {
      try {
        spec = spec.withEosScale(Double.parseDouble(a.get("eos-scale")));
      } catch (IllegalArgumentException e) {
        throw new Args.UsageException("--eos-scale: a number >= 0 (0: never EOS; "
            + TinyModelSpec.STOPPING_EOS_SCALE + ": the tiny-llama-ja-stop model), got " + a.get("eos-scale"));
      }
    }
    // --- tiny-model --lora (issue 31): random LoRA adapters beside the model, and each merged into a model of its own ---
    List<dev.jgen.model.TinyLora> loras = new java.util.ArrayList<>();
    if (a.get("lora") != null) {
      for (String name : a.get("lora").split(",")) {
        try {
          loras.add(dev.jgen.model.TinyLora.named(name.trim()));
        } catch (IllegalArgumentException e) {
          throw new Args.UsageException("--lora: " + e.getMessage());
        }
      }
    }
    try {
      Path dir = TinyModelWriter.write(Path.of(a.get("out")), spec);
      out.println("jgen: wrote a " + shape + " model with random weights to " + dir.toAbsolutePath());
      for (dev.jgen.model.TinyLora lora : loras) {
        Path adapter = lora.writeAdapter(dir.resolve(lora.fileName()), spec);
        if (spec.type() != dev.jgen.model.TensorType.F32) {
          // W + B A rounded back to a quantized type is not what the adapter computes: no merged model to check against.
          out.println("jgen: wrote the LoRA adapter " + adapter.toAbsolutePath() + " (rank " + lora.rank()
              + ", every attention and MLP projection; no merged model: the " + shape + " shape's weights are quantized)");
          continue;
        }
        Path merged = TinyModelWriter.writeMerged(dir.resolve("merged-" + lora.name()), spec, lora, 1.0);
        out.println("jgen: wrote the LoRA adapter " + adapter.toAbsolutePath() + " (rank " + lora.rank()
            + ", every attention and MLP projection) and the model with it merged at scale 1 to " + merged.toAbsolutePath());
      }
      return 0;
    } catch (java.io.IOException e) {
      throw new ConfigException("--out: cannot write " + a.get("out") + ": " + e.getMessage(), e);
    }
  }

  private static int models(String[] argv, PrintStream out) {
    Args a = Args.parse(argv, 1, Set.of("conf-dir", "gpu", "context", "memory-fraction"), Set.of());
    ModelCatalog catalog = ModelCatalog.load(confDir(a.get("conf-dir")));
    // serving branch: GPU presets per model (docs/serving.md)
    if (a.get("gpu") != null) {
      return InspectCommands.gpuPresets(catalog, a.get("gpu"), a.get("context"), a.get("memory-fraction"), out);
    }
    out.printf("%-32s %-42s %-8s %-8s %-9s %-4s %s%n", "ID", "HUGGING FACE", "ARCH", "CONTEXT", "ATTRS", "TP", "TEMPLATE");
    for (ModelEntry e : catalog.entries()) {
      out.printf("%-32s %-42s %-8s %-8d %-9s %-4s %s%n", e.id(), e.hfId() == null ? "-" : e.hfId(), e.architecture(),
          e.contextLength(), e.attributes(), e.gpu().getOrDefault("tensor_parallel_degree", "-"),
          (e.templateFile() == null ? "from the model files" : e.templateFile()) + (e.templateVerified() ? "" : " (NOT VERIFIED)"));
    }
    return 0;
  }

  /** --conf-dir, else JGEN_CONF, else ./conf, else the conf folder beside the launcher (JGEN_HOME). */
  static Path confDir(String option) {
    if (option != null) {
      return Path.of(option);
    }
    String env = System.getenv("JGEN_CONF");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    if (Files.isDirectory(Path.of("conf", "models"))) {
      return Path.of("conf");
    }
    String home = System.getenv("JGEN_HOME");
    return home != null ? Path.of(home, "conf") : Path.of("conf");
  }

  private static boolean isSparkSubmit() {
    return System.getProperty("spark.submit.deployMode") != null;
  }

  static String configHelp() {
    StringBuilder sb = new StringBuilder("Config keys (YAML, or --set key=value):\n");
    for (ConfigKey k : ConfigKeys.all().values()) {
      sb.append(String.format("  %-36s %s%s%n", k.name(), k.description(),
          k.defaultValue() == null || (k.defaultValue() instanceof List<?> l && l.isEmpty())
              || (k.defaultValue() instanceof Map<?, ?> m && m.isEmpty()) ? "" : " [default: " + k.defaultValue() + "]"));
    }
    sb.append(EXIT_CODES);
    return sb.toString();
  }

  private static final String EXIT_CODES = """
      Exit codes: 0 the run finished (its error rows are counted in the summary, not fatal)
                  1 failure or refusal (another job is generating the run, output.path is not a jgen table)
                  2 usage or configuration error (nothing started)
                  3 run error: the run stopped on a systemic fault (engine, tokenizer, jgen itself) when
                    job.max_failure_rate of the last job.failure_window rows failed for such reasons; committed rows
                    stay, and the same command resumes once the cause is fixed
                  4 the run's lock was lost (not renewable, or taken over): stopped before another job could write
      """;

  private static final String USAGE = """
      jgen: batch generation with Japanese chat LLMs on Spark, into Delta Lake.

      Commands:
        generate --config FILE [--set key=value ...] [--retry-errors]
                                   run a generation job (generate --help lists the config keys)
        demo [--set key=value ...] run conf/jobs/demo.yaml on the tiny random model and show a few rows
        render (--model ID | --model-dir DIR) --in FILE.jsonl --out FILE.jsonl
                                   render and tokenize conversations with a model's chat template, no generation
        export mtbench --output PATH [--run ID] --to DIR [--model-id NAME]
                                   write a MT-Bench run as FastChat model_answer JSONL (DIR/<model_id>.jsonl)
        export judgment --output PATH [--run ID] --to DIR
                                   write a judge run as FastChat's DIR/model_judgment/<judge>_single.jsonl (show_result.py)
        scores (--output PATH [--run ID ...] | --judgments FILE ... [--questions FILE]) [--normalize] [--format text|json|csv]
                                   MT-Bench scores per model: average, turn 1, turn 2, per category (-1 ratings
                                   dropped and counted, as show_result.py); several judge runs: mean and spread;
                                   --normalize: score/10
        export openai-batch --output PATH [--run ID] --to FILE [--errors FILE]
                                   write a run as OpenAI Batch output lines (FILE) and error lines (FILE.errors.jsonl)
        export sft --output CURATED [--run ID] --to DIR [--format messages|sharegpt|alpaca] [--parquet]
                                   write the kept rows of a job.kind=curate table as DIR/train.jsonl + a dataset card
        export dpo --output CURATED [--run ID] --to DIR [--min-margin X] [--parquet]
                                   write preference pairs (highest vs lowest score per id) for TRL's DPO trainer
        runs --output PATH [--runs-path PATH]
                                   list the runs of an output table with their counts
        show --output PATH [--run ID] [--status ok|error] [--limit N] [--format table|jsonl] [--all-attempts]
                                   print rows of an output table (the latest attempt of each row by default)
        report --output PATH [--run ID] --to FILE.html
                                   one self-contained HTML page of a run: summary, throughput, latency, errors (charts)
        models                     list the model catalog (conf/models/); --gpu h100-80gb|h200-141gb: GPU presets
        bench [--scenario engine|pipeline|serving|curate|prefix|adapters|all] [--quick] [--out FILE.json] [--rows N]
                                   measure the job against the bare engine, the pipeline's cost, the serving window
        tiny-model --out DIR [--shape tiny|llm-jp-3-1.8b] [--eos-scale X (EOS logit spread; 0 never stops)]
            [--lora NAME[,NAME...] (random LoRA adapters DIR/NAME.gguf; on the tiny shape each merged too: DIR/merged-NAME/)]
                                   write a Llama model with random weights (GGUF + Hugging Face tokenizer files)

%s
      Options for every command: --conf-dir DIR (default: $JGEN_CONF, ./conf, or the repository's conf/);
        --verbose: also print llama.cpp's own log (kept at DEBUG: logger dev.jgen.engine.llamacpp.native).
      The last line of standard output of generate is one JSON object with the run's counts.
      """.formatted(EXIT_CODES);


}
