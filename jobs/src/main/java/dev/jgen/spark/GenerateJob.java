package dev.jgen.spark;

import dev.jgen.catalog.ModelCatalog;
import dev.jgen.catalog.ModelResolver;
import dev.jgen.catalog.ResolvedModel;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.GenerationSettings;
import dev.jgen.config.JobConfig;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.job.JobEngineProvider;
import dev.jgen.input.AttributeSweep;
import dev.jgen.input.MtBenchTemperatures;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.prompt.PromptSpecs;
import dev.jgen.structured.OutputConstraint;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A generation job checked and resolved on the driver, before any Spark session exists: config, model files, chat
 * template, tokenizer, engine settings and run id. Everything that can be wrong with the configuration fails here.
 */
public record GenerateJob(
    JobConfig config,
    String inputFormat,
    ResolvedModel model,
    PromptSpec prompts,
    EngineSpec engine,
    GenerationSettings generation,
    String runId,
    String configHash) {

  /** The runs table of this job's output: {@code output.runs_path}, or the one beside the output table. */
  public String runsPath() {
    return config.isSet(ConfigKeys.RUNS_PATH) ? config.string(ConfigKeys.RUNS_PATH)
        : dev.jgen.delta.RunsTable.besideOutput(config.string(ConfigKeys.OUTPUT_PATH));
  }

  public static GenerateJob prepare(JobConfig config, Path confDir) {
    String kind = config.string(ConfigKeys.ENGINE_KIND);
    boolean generates = !kind.equals("none");
    // What this job needs to know of its engine kind is asked of the kind's provider: no job code names a kind.
    JobEngineProvider engineKind = !generates ? null : JobEngineProvider.find(kind).orElseThrow(() -> new ConfigException(
        ConfigKeys.ENGINE_KIND + ": no engine of kind '" + kind + "' on the class path"));
    if (config.string(ConfigKeys.JOB_KIND).equals("judge")) {
      // The judge job's model is the judge: it takes model.id / model.path's place for everything below (catalog
      // entry, template, engine options), so every engine serves a judge as it serves any model.
      if (config.isSet(ConfigKeys.JUDGE_MODEL_ID)) {
        config = config.with(ConfigKeys.MODEL_ID, config.string(ConfigKeys.JUDGE_MODEL_ID));
      }
      if (config.isSet(ConfigKeys.JUDGE_MODEL_PATH)) {
        config = config.with(ConfigKeys.MODEL_PATH, config.string(ConfigKeys.JUDGE_MODEL_PATH));
      }
      if (config.integer(ConfigKeys.N) != 1) {
        throw new ConfigException(ConfigKeys.N + ": job.kind=judge makes one judgment per answer and turn (temperature 0); "
            + "for several judge runs, run the job again with another run.id and average them with `jgen scores`");
      }
      if (config.integer(ConfigKeys.JUDGE_CONSTRAIN_RATING) > 0 && !carries(engineKind, OutputConstraint.Kind.GRAMMAR)) {
        throw new ConfigException(ConfigKeys.JUDGE_CONSTRAIN_RATING + ": the rating grammar is GBNF, which engine.kind="
            + kindsCarrying(OutputConstraint.Kind.GRAMMAR) + " applies (got engine.kind=" + kind + "); set it to 0");
      }
      Path prompts = judgePrompts(config, confDir);
      if (!Files.isRegularFile(prompts)) {
        throw new ConfigException(ConfigKeys.JUDGE_PROMPTS + ": no such file: " + prompts);
      }
    }
    if (config.string(ConfigKeys.JOB_KIND).equals("score")) {
      // As the judge: the scoring model takes model.id / model.path's place.
      if (config.isSet(ConfigKeys.SCORE_MODEL_ID)) {
        config = config.with(ConfigKeys.MODEL_ID, config.string(ConfigKeys.SCORE_MODEL_ID));
      }
      if (config.isSet(ConfigKeys.SCORE_MODEL_PATH)) {
        config = config.with(ConfigKeys.MODEL_PATH, config.string(ConfigKeys.SCORE_MODEL_PATH));
      }
      if (config.integer(ConfigKeys.N) != 1) {
        throw new ConfigException(ConfigKeys.N + ": job.kind=score rates each generation once (temperature 0)");
      }
      if (config.integer(ConfigKeys.SCORE_CONSTRAIN_RATING) > 0 && !config.string(ConfigKeys.ENGINE_KIND).equals("llamacpp")) {
        throw new ConfigException(ConfigKeys.SCORE_CONSTRAIN_RATING + ": the rating grammar is GBNF, which engine.kind=llamacpp "
            + "applies (got engine.kind=" + config.string(ConfigKeys.ENGINE_KIND) + "); set it to 0");
      }
      if (config.integer(ConfigKeys.SCORE_CONSTRAIN_RATING) > 0 && config.bool(ConfigKeys.SCORE_JSON)) {
        throw new ConfigException(ConfigKeys.SCORE_CONSTRAIN_RATING + ": score.json=true already constrains the judge's output; "
            + "set one of them");
      }
      Path rubric = scoreRubric(config, confDir);
      if (!Files.isRegularFile(rubric)) {
        throw new ConfigException(ConfigKeys.SCORE_RUBRIC + ": no such file: " + rubric);
      }
    }
    String format = inputFormat(config);
    ModelCatalog catalog = ModelCatalog.load(confDir);
    ResolvedModel model = new ModelResolver(catalog, ModelResolver.defaultCacheDir())
        .resolve(config.string(ConfigKeys.MODEL_ID), config.string(ConfigKeys.MODEL_PATH), engineKind != null && engineKind.needsGguf());
    int ctx = config.integer(ConfigKeys.ENGINE_CTX_SIZE);
    if (ctx <= 0) {
      ctx = Math.min(model.contextLength(), 4096);
    }
    PromptSpec prompts = PromptSpecs.forModel(model, ctx, config.string(ConfigKeys.SPECIAL_TOKENS_IN_CONTENT),
        config.string(ConfigKeys.ATTRIBUTES_APPLY_TO));
    if (engineKind != null) {
      engineKind.checkModel(model, prompts);
    }
    String jobKind = config.string(ConfigKeys.JOB_KIND);
    if (!jobKind.equals("generate") && !generates) {
      throw new ConfigException(ConfigKeys.ENGINE_KIND + ": job.kind=" + jobKind + " generates turn after turn; engine.kind=none "
          + "only fits job.kind=generate");
    }
    if (!config.map(ConfigKeys.ATTRIBUTES_SWEEP).isEmpty()) {
      AttributeSweep.validate(config.map(ConfigKeys.ATTRIBUTES_SWEEP), prompts);
    }
    if (jobKind.equals("mtbench")) {
      MtBenchTemperatures.of(config);
    }
    if (!jobKind.equals("generate")) {
      // Multi-turn kinds build their conversations from the question or seed: an attribute sweep or an input dedup
      // would be silently ignored there, so they are refused.
      if (!config.map(ConfigKeys.ATTRIBUTES_SWEEP).isEmpty()) {
        throw new ConfigException(ConfigKeys.ATTRIBUTES_SWEEP + ": only job.kind=generate expands attribute sweeps (job.kind="
            + jobKind + ")");
      }
      if (config.bool(ConfigKeys.INPUT_DEDUP)) {
        throw new ConfigException(ConfigKeys.INPUT_DEDUP + ": only job.kind=generate deduplicates its input (job.kind=" + jobKind + ")");
      }
      if (format.equals("openai-batch")) {
        throw new ConfigException(ConfigKeys.INPUT_FORMAT + ": openai-batch holds chat requests for job.kind=generate (job.kind="
            + jobKind + " reads questions or seed prompts)");
      }
      if (jobKind.equals("score") && !format.equals("delta")) {
        throw new ConfigException(ConfigKeys.INPUT_FORMAT + ": job.kind=score reads a generations table (Delta: a generate, magpie, "
            + "selfchat or mtbench table), got " + format);
      }
      if (jobKind.equals("judge") && !format.equals("jsonl") && !format.equals("delta")) {
        throw new ConfigException(ConfigKeys.INPUT_FORMAT + ": job.kind=judge reads answers from a job.kind=mtbench Delta table "
            + "(delta) or FastChat model_answer files (jsonl), got " + format);
      }
    }
    GenerationSettings generation = new GenerationSettings(config, model.entry() == null ? null : model.entry().generationDefaults());
    if (generation.maxNewTokens() >= ctx) {
      throw new ConfigException(ConfigKeys.MAX_NEW_TOKENS + ": " + generation.maxNewTokens() + " leaves no room for a prompt in a context of "
          + ctx + " tokens (engine.ctx_size)");
    }
    if (!generation.adapters().isEmpty() && (engineKind == null || !engineKind.carriesAdapters())) {
      throw new ConfigException(ConfigKeys.MODEL_ADAPTERS + ": engine.kind=" + kind + " does not apply per-row LoRA adapters "
          + "(llamacpp, trtllm-serve and djl-serving do)");
    }
    EngineSpec engine = engineKind == null ? null : engineKind.spec(config, model, prompts, generation, ctx);
    checkConstraintFitsEngine(config, generation, engineKind);
    String identity = identity(config, model, prompts, generation);
    if (jobKind.equals("judge")) {
      // Only the judge's runs have these lines, so other kinds keep their run ids; the prompts by content.
      try {
        identity += "\njudge=" + config.string(ConfigKeys.JUDGE_QUESTIONS) + "|" + config.string(ConfigKeys.JUDGE_REFERENCES)
            + "|" + config.strings(ConfigKeys.JUDGE_REF_CATEGORIES) + "|" + config.string(ConfigKeys.JUDGE_NAME)
            + "|constrain=" + config.integer(ConfigKeys.JUDGE_CONSTRAIN_RATING)
            + "|prompts=" + PromptSpecs.sha256(Files.readAllBytes(judgePrompts(config, confDir)));
      } catch (java.io.IOException e) {
        throw new ConfigException(ConfigKeys.JUDGE_PROMPTS + ": cannot read " + judgePrompts(config, confDir) + ": " + e.getMessage(), e);
      }
    }
    if (jobKind.equals("score")) {
      try {
        identity += "\nscore=" + config.bool(ConfigKeys.SCORE_JSON) + "|constrain=" + config.integer(ConfigKeys.SCORE_CONSTRAIN_RATING)
            + "|rubric=" + PromptSpecs.sha256(Files.readAllBytes(scoreRubric(config, confDir)));
      } catch (java.io.IOException e) {
        throw new ConfigException(ConfigKeys.SCORE_RUBRIC + ": cannot read " + scoreRubric(config, confDir) + ": " + e.getMessage(), e);
      }
    }
    String configHash = PromptSpecs.sha256(identity.getBytes(StandardCharsets.UTF_8));
    String runId = config.isSet(ConfigKeys.RUN_ID) ? config.string(ConfigKeys.RUN_ID) : "run-" + configHash.substring(0, 12);
    return new GenerateJob(config, format, model, prompts, engine, generation, runId, configHash);
  }

  /** Structured output (issue 13): a constraint the configured engine cannot carry fails here, before Spark starts. */
  private static void checkConstraintFitsEngine(JobConfig config, GenerationSettings generation, JobEngineProvider engineKind) {
    OutputConstraint constraint = generation.constraint();
    String kind = config.string(ConfigKeys.ENGINE_KIND);
    if (constraint == null) {
      return;
    }
    if (!config.string(ConfigKeys.JOB_KIND).equals("generate")) {
      // mtbench and selfchat write answers turn by turn through eval/*, which does not apply output constraints.
      throw new ConfigException(constraint.kindKey() + ": output constraints apply to job.kind=generate only (got job.kind="
          + config.string(ConfigKeys.JOB_KIND) + ")");
    }
    if (engineKind == null) {
      return; // engine.kind=none renders and tokenizes only
    }
    if (constraint.kind() == OutputConstraint.Kind.GRAMMAR && !engineKind.carries(constraint.kind())) {
      throw new ConfigException(ConfigKeys.GRAMMAR + ": GBNF grammars need engine.kind=" + kindsCarrying(constraint.kind())
          + " (got engine.kind=" + kind + "); use " + ConfigKeys.JSON_SCHEMA + " or " + ConfigKeys.CHOICE);
    }
    engineKind.checkConstraint(config, constraint);
  }

  private static boolean carries(JobEngineProvider engineKind, OutputConstraint.Kind kind) {
    return engineKind != null && engineKind.carries(kind);
  }

  /** The engine kinds that carry constraints of this kind, as a message names them ("llamacpp", "a | b"). */
  private static String kindsCarrying(OutputConstraint.Kind kind) {
    return String.join(" | ", JobEngineProvider.kindsCarrying(kind));
  }

  /** What makes two runs the same run: the same rows through the same model, template and parameters. */
  private static String identity(JobConfig c, ResolvedModel m, PromptSpec p, GenerationSettings g) {
    return String.join("\n",
        "input=" + c.string(ConfigKeys.INPUT_PATH),
        "id_column=" + c.string(ConfigKeys.INPUT_ID_COLUMN),
        "model=" + m.modelId() + "@" + m.fingerprint(),
        "template=" + p.templateSha256(),
        "tokenizer=" + p.tokenizerSha256(),
        "engine=" + c.string(ConfigKeys.ENGINE_KIND),
        "params=" + g.defaults(),
        "n=" + c.integer(ConfigKeys.N),
        "guard=" + c.string(ConfigKeys.SPECIAL_TOKENS_IN_CONTENT),
        "attributes=" + c.string(ConfigKeys.ATTRIBUTES_APPLY_TO),
        "job=" + c.string(ConfigKeys.JOB_KIND),
        "sweep=" + c.map(ConfigKeys.ATTRIBUTES_SWEEP),
        "dedup=" + c.bool(ConfigKeys.INPUT_DEDUP),
        "mtbench=" + c.map(ConfigKeys.MTBENCH_TEMPERATURES),
        "selfchat=" + c.integer(ConfigKeys.SELFCHAT_TURNS) + "/" + c.string(ConfigKeys.SELFCHAT_USER_PROMPT))
        // Structured output (issue 13): only a constrained run has this line, so other runs keep their ids.
        + (g.constraint() == null ? "" : "\nconstraint=" + g.constraint().sha256())
        // LoRA adapters (issue 31): each by name, fingerprint and scale; only a run with adapters has this line.
        + (g.adapters().isEmpty() ? "" : "\nadapters=" + g.adapters().values().stream()
            .map(a -> a.name() + "@" + a.sha256() + "x" + a.scale()).toList()
            + "|default=" + c.get(ConfigKeys.GENERATION_ADAPTER));
  }

  /** The judge prompts file: judge.prompts, else the default jgen ships for judge.language (conf/judge/). */
  public static Path judgePrompts(JobConfig config, Path confDir) {
    return config.isSet(ConfigKeys.JUDGE_PROMPTS) ? Path.of(config.string(ConfigKeys.JUDGE_PROMPTS))
        : confDir.resolve("judge").resolve("judge_prompts_" + config.string(ConfigKeys.JUDGE_LANGUAGE) + ".jsonl");
  }

  /** The scoring rubric: score.rubric, else the Japanese helpfulness rubric jgen ships (conf/score/). */
  public static Path scoreRubric(JobConfig config, Path confDir) {
    return config.isSet(ConfigKeys.SCORE_RUBRIC) ? Path.of(config.string(ConfigKeys.SCORE_RUBRIC))
        : confDir.resolve("score").resolve("helpfulness_ja.txt");
  }

  static String inputFormat(JobConfig config) {
    String path = config.string(ConfigKeys.INPUT_PATH);
    boolean local = !path.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*") || path.startsWith("file:");
    Path p = local ? Path.of(path.replaceFirst("^file:(//)?", "")) : null;
    if (p != null && !Files.exists(p)) {
      throw new ConfigException(ConfigKeys.INPUT_PATH + ": no such file or directory: " + p.toAbsolutePath());
    }
    if (config.isSet(ConfigKeys.INPUT_FORMAT)) {
      return config.string(ConfigKeys.INPUT_FORMAT);
    }
    String lower = path.toLowerCase();
    if (lower.endsWith(".jsonl") || lower.endsWith(".json") || lower.endsWith(".jsonl.gz")) {
      return "jsonl";
    }
    if (lower.endsWith(".parquet")) {
      return "parquet";
    }
    if (p != null && Files.isDirectory(p.resolve("_delta_log"))) {
      return "delta";
    }
    if (p != null && Files.isDirectory(p) && "judge".equals(config.string(ConfigKeys.JOB_KIND))) {
      return "jsonl"; // FastChat's model_answer folder: one <model>.jsonl per model
    }
    throw new ConfigException(ConfigKeys.INPUT_FORMAT + ": cannot tell the format of " + path + "; set it to one of "
        + String.join(" | ", ConfigKeys.INPUT_FORMATS));
  }
}
