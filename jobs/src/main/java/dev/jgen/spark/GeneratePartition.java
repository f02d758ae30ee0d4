package dev.jgen.spark;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionWindow;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.LongestFirst;
import dev.jgen.engine.SamplingParams;
import dev.jgen.generate.EngineMetrics;
import dev.jgen.generate.Generator;
import dev.jgen.generate.RunFailedException;
import dev.jgen.generate.RunHealth;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.InvalidRowException;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.prompt.SteerLmAttributes;
import dev.jgen.structured.ConstraintException;
import dev.jgen.structured.OutputConstraint;
import dev.jgen.delta.OutputRow;
import java.sql.Timestamp;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;

/**
 * The executor side of a run: streams through a partition, hands each row to the {@link Generator} (template, tokens,
 * engine), keeps up to twice the engine's capacity of requests in flight, and emits one output row per input row as
 * soon as it completes. Nothing is collected: memory stays bounded by the window whatever the partition size. A problem
 * with a row's content becomes an error row; a run error (engine, tokenizer, internal) becomes an error row too until
 * {@link RunHealth} says the run is broken, and then fails the task (and the run) with the cause.
 */
final class GeneratePartition implements FlatMapFunction<Iterator<Row>, Row> {
  private static final java.util.concurrent.atomic.AtomicLong PARTITIONS_STARTED = new java.util.concurrent.atomic.AtomicLong();

  private final JobPlan plan;
  private final Broadcast<PromptSpec> prompts;
  private final RunCounters counters;
  private final ChunkTask.Accounting accounting;

  /** @param accounting the chunk's time limit, and where its rows written and rows not started are counted */
  GeneratePartition(JobPlan plan, Broadcast<PromptSpec> prompts, RunCounters counters, ChunkTask.Accounting accounting) {
    this.plan = plan;
    this.prompts = prompts;
    this.counters = counters;
    this.accounting = accounting;
  }

  /** Partitions this JVM has started generating: with the engine's load count, shows loads are per JVM, not per task. */
  static long partitionsStarted() {
    return PARTITIONS_STARTED.get();
  }

  @Override
  public Iterator<Row> call(Iterator<Row> input) {
    PARTITIONS_STARTED.incrementAndGet();
    PromptTranslator translator = PromptTranslator.shared(prompts.value());
    Engine engine = plan.engine() == null ? null : load(plan.engine(), counters);
    RunHealth health = RunHealth.of(plan.runId() + "/" + plan.attempt(), plan.health());
    Generator generator = new Generator(translator, engine, health);
    String executorId = SparkEnv.get() == null ? "driver" : SparkEnv.get().executorId();
    EngineInfo info = generator.engineInfo();
    // Rows are emitted as they complete, never in input order: a long generation does not stop the window from
    // refilling. After job.commit_interval_s of generating, the task starts no new row, so its chunk commits soon
    // after; the rows left are planned again by the driver.
    JobPlan jobPlan = plan;
    // Largest budgets first over a read-ahead of one window, so the end of the input drains short rows. Not more: the
    // short rows held back all finish within a few steps at the end, and the rate of new rows that asks of this task
    // grows with the read-ahead (at four windows the serving bench's client could not keep up and lost more than the
    // order gained). Below the time limit's bound: rows read ahead but not started when the limit strikes go back to
    // the driver like the rest.
    int defaultBudget = plan.generation().maxNewTokens();
    Iterator<Row> fed = engine != null && plan.longestFirst()
        ? new LongestFirst<>(input, generator.window(), row -> jobPlan.columns().maxNewTokens(row, defaultBudget))
        : input;
    // A task with at most one window of rows left when job.commit_interval_s strikes finishes them: cut, they would be
    // a chunk of their own run on an engine with little else to do.
    ChunkTask.Bounded<Row> bounded = ChunkTask.bound(fed, accounting, jobPlan::position, engine == null ? 0 : generator.window());
    CompletionWindow<Row, Pending, Row> window = new CompletionWindow<>(bounded, generator.window(),
        row -> start(row, generator), p -> p.generation == null ? null : p.generation.pending(),
        p -> finish(p, info, executorId));
    window.stallLimit(generator::stallLimit, RunFailedException::new);
    return ChunkTask.outputs(window, bounded, accounting, () -> {
      generator.checkHealthAtEnd();
      Map<String, Double> metrics = engine == null ? Map.of() : engine.serverMetrics();
      if (!metrics.isEmpty()) {
        counters.serverMetrics().add(new EngineMetrics(info.instanceId(), metrics));
      }
    });
  }

  /** The executor's engine; one that cannot load stops the run (a run error, exit code 3), never a row at a time. */
  static Engine load(dev.jgen.engine.EngineSpec spec, RunCounters counters) {
    try {
      return EngineRegistry.shared(spec, loaded -> { if (counters != null) counters.modelLoadMs().add(loaded.loadMillis()); });
    } catch (dev.jgen.engine.EngineException e) {
      throw new RunFailedException("the engine could not be loaded: " + e.getMessage(), e);
    }
  }

  /** One row between preparation and its output. */
  private static final class Pending {
    long inputRow;
    int sample;
    String rowKey;
    String id;
    String duplicateOf;
    dev.jgen.engine.LoraAdapter adapter;
    Generator.Generation generation;
  }

  private Pending start(Row row, Generator generator) {
    generator.checkHealth();
    Request r = request(plan, row);
    Pending p = new Pending();
    p.inputRow = r.inputRow();
    p.sample = r.sample();
    p.rowKey = r.rowKey();
    p.id = r.id();
    if (r.error() != null) {
      p.generation = generator.rowError(r.error());
      return p;
    }
    p.duplicateOf = r.duplicateOf();
    p.adapter = r.adapter();
    p.generation = generator.start(plan.runId() + "/" + p.id + "/" + p.sample, r.chat(), r.params(), r.constraint(),
        r.adapter(), p.duplicateOf == null);
    return p;
  }

  /**
   * A (row, sample)'s request as the run sends it, before the template and the engine: its sampling parameters (seed
   * included), chat and constraint, or the row error that stops it. The one place these are read from a row, for the
   * generation and for {@link RequestReuse}'s lookup alike.
   */
  record Request(long inputRow, int sample, String rowKey, String id, String duplicateOf, SamplingParams params,
      ChatInput chat, OutputConstraint constraint, dev.jgen.engine.LoraAdapter adapter, String error) {}

  static Request request(JobPlan plan, Row row) {
    InputColumns cols = plan.columns();
    long inputRow = cols.inputRow(row);
    int sample = cols.sample(row);
    String rowKey = cols.rowKey(row);
    String precheck = cols.precheckError(row);
    if (precheck != null) {
      return new Request(inputRow, sample, rowKey, null, null, null, null, null, null, precheck);
    }
    String id = cols.id(row);
    if (id == null || id.isBlank()) {
      return new Request(inputRow, sample, rowKey, id, null, null, null, null, null, "input row " + inputRow + ": missing or empty id");
    }
    try {
      SamplingParams params;
      dev.jgen.engine.LoraAdapter adapter;
      try {
        params = plan.generation().resolve(cols.overrides(row), plan.seedKey(id), sample);
        // An adapter the job does not have is the row's error, naming the ones it has.
        adapter = plan.generation().adapter(cols.adapter(row), cols.adapterScale(row));
      } catch (IllegalArgumentException e) {
        throw new InvalidRowException(e.getMessage());
      }
      ChatInput chat = cols.chat(row);
      // Structured output: the row's json_schema or choice column, else the job's constraint.
      OutputConstraint constraint;
      try {
        constraint = OutputConstraint.forRow(plan.generation().constraint(), cols.column(row, OutputConstraint.COLUMN_JSON_SCHEMA),
            cols.column(row, OutputConstraint.COLUMN_CHOICE));
      } catch (ConstraintException e) {
        throw new InvalidRowException(e.getMessage());
      }
      return new Request(inputRow, sample, rowKey, id, cols.duplicateOf(row), params, chat, constraint, adapter, null);
    } catch (InvalidRowException e) {
      return new Request(inputRow, sample, rowKey, id, null, null, null, null, null, e.getMessage());
    }
  }

  private Row finish(Pending p, EngineInfo info, String executorId) {
    Generator.Generation g = p.generation.finish();
    Completion c = g.completion();
    String error = g.error();
    PreparedPrompt prompt = g.prompt();
    SamplingParams params = g.params();
    boolean ok = error == null;
    String status = !ok ? "error" : p.duplicateOf != null ? "skipped" : "ok";
    int promptTokens = prompt == null ? 0 : Math.max(0, prompt.tokenCount());
    int completionTokens = c == null ? 0 : c.completionTokens();
    counters.rowDone(ok, g.systemic(), promptTokens, completionTokens);
    accounting.spent(promptTokens, completionTokens);
    PromptSpec spec = prompts.value();
    OutputRow out = new OutputRow();
    out.set("run_id", plan.runId());
    out.set("id", p.id);
    out.set("sample_index", p.sample);
    out.set("row_key", p.rowKey);
    out.set("input_row", p.inputRow);
    out.set("attempt", plan.attempt());
    out.set("status", status);
    out.set("error", error);
    out.set("duplicate_of", p.duplicateOf);
    out.set("model_id", plan.modelId());
    out.set("model_fingerprint", plan.modelFingerprint());
    out.set("engine", info == null ? "none" : info.kind());
    out.set("engine_version", info == null ? null : info.version());
    out.set("engine_instance", info == null ? null : info.instanceId());
    out.set("template_sha256", spec.templateSha256());
    out.set("prompt", prompt == null ? null : prompt.text());
    out.set("prompt_tokens", prompt == null || prompt.tokenIds() == null ? null : prompt.tokenIds().length);
    out.set("prompt_token_ids", info == null && prompt != null && prompt.tokenIds() != null ? boxed(prompt.tokenIds()) : null);
    out.set("output_text", c == null ? null : c.text());
    out.set("finish_reason", c == null ? null : c.finishReason());
    out.set("completion_tokens", c == null ? null : c.completionTokens());
    out.set("seed", params == null ? null : params.seed());
    out.set("params", params == null ? null : paramsRow(params));
    out.set("attributes", prompt == null || prompt.attributes().isEmpty() ? null : attributesRow(prompt.attributes()));
    out.set("warnings", prompt == null || prompt.warnings().isEmpty() ? null : prompt.warnings().toArray(String[]::new));
    out.set("queue_ms", c == null ? null : g.queueMs());
    out.set("latency_ms", c == null ? null : c.latencyMs());
    out.set("executor_id", executorId);
    out.set("created_at", new Timestamp(System.currentTimeMillis()));
    out.set("output_json", g.outputJson());
    out.set("constraint_sha256", g.constraint() == null ? null : g.constraint().sha256());
    out.set("adapter", p.adapter == null ? null : p.adapter.name());
    out.set("adapter_sha256", p.adapter == null ? null : p.adapter.sha256());
    out.set("adapter_scale", p.adapter == null ? null : p.adapter.scale());
    out.set("cached_tokens", c == null ? null : c.cachedTokens());
    counters.written().add(out);
    return out.toRow();
  }

  private static Integer[] boxed(int[] ids) {
    Integer[] out = new Integer[ids.length];
    for (int k = 0; k < ids.length; k++) {
      out[k] = ids[k];
    }
    return out;
  }

  static Row paramsRow(SamplingParams p) {
    return RowFactory.create(p.maxNewTokens(), p.temperature(), p.topP(), p.topK(), p.repetitionPenalty(), p.seed(),
        p.stop().toArray(String[]::new));
  }

  private static Row attributesRow(Map<String, Integer> attrs) {
    List<String> names = SteerLmAttributes.NAMES;
    Object[] v = new Object[names.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = attrs.get(names.get(i));
    }
    return RowFactory.create(v);
  }

  /** Live counts for the driver's progress line, and the written rows' tally for the attempt's summary. */
  record RunCounters(LongAccumulator rows, LongAccumulator ok, LongAccumulator runErrors, LongAccumulator promptTokens,
      LongAccumulator completionTokens, LongAccumulator modelLoadMs, CollectionAccumulator<EngineMetrics> serverMetrics,
      WrittenTally written) implements java.io.Serializable {
    void rowDone(boolean isOk, boolean systemic, int prompt, int completion) {
      JgenMetrics.rowDone(isOk, prompt, completion);
      rows.add(1);
      if (isOk) {
        ok.add(1);
      }
      if (systemic) {
        runErrors.add(1);
      }
      promptTokens.add(prompt);
      completionTokens.add(completion);
    }
  }
}
