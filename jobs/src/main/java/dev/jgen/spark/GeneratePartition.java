package dev.jgen.spark;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.OrderedWindow;
import dev.jgen.engine.SamplingParams;
import dev.jgen.prompt.InvalidRowException;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.prompt.SteerLmAttributes;
import java.sql.Timestamp;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.LongAccumulator;

/**
 * The executor side of a run: streams through a partition, prepares each row (template, tokens), keeps up to the
 * engine's capacity of requests in flight, and emits one output row per input row, in input order. Nothing is
 * collected: memory stays bounded by the window whatever the partition size. Any problem with a row becomes an error
 * row; only an engine that cannot load fails the task.
 */
final class GeneratePartition implements FlatMapFunction<Iterator<Row>, Row> {
  private static final java.util.concurrent.atomic.AtomicLong PARTITIONS_STARTED = new java.util.concurrent.atomic.AtomicLong();

  private final JobPlan plan;
  private final Broadcast<PromptSpec> prompts;
  private final RunCounters counters;

  GeneratePartition(JobPlan plan, Broadcast<PromptSpec> prompts, RunCounters counters) {
    this.plan = plan;
    this.prompts = prompts;
    this.counters = counters;
  }

  /** Partitions this JVM has started generating: with the engine's load count, shows loads are per JVM, not per task. */
  static long partitionsStarted() {
    return PARTITIONS_STARTED.get();
  }

  @Override
  public Iterator<Row> call(Iterator<Row> input) {
    PARTITIONS_STARTED.incrementAndGet();
    PromptTranslator translator = PromptTranslator.shared(prompts.value());
    Engine engine = plan.engine() == null ? null
        : EngineRegistry.shared(plan.engine(), loaded -> counters.modelLoadMs().add(loaded.loadMillis()));
    String executorId = SparkEnv.get() == null ? "driver" : SparkEnv.get().executorId();
    int window = engine == null ? 1 : Math.max(1, engine.capacity() * 2);
    EngineInfo info = engine == null ? null : engine.info();
    return new OrderedWindow<>(input, window, row -> start(row, translator, engine), p -> finish(p, info, executorId));
  }

  /** One row between preparation and its output. */
  private static final class Pending {
    long inputRow;
    int sample;
    String rowKey;
    String id;
    String duplicateOf;
    String error;
    PreparedPrompt prompt;
    SamplingParams params;
    dev.jgen.structured.OutputConstraint constraint; // structured output (issue 13)
    long submittedNanos;
    CompletableFuture<Completion> completion;
  }

  private Pending start(Row row, PromptTranslator translator, Engine engine) {
    InputColumns cols = plan.columns();
    Pending p = new Pending();
    p.inputRow = cols.inputRow(row);
    p.sample = cols.sample(row);
    p.rowKey = cols.rowKey(row);
    try {
      p.error = cols.precheckError(row);
      if (p.error != null) {
        return p;
      }
      p.id = cols.id(row);
      if (p.id == null || p.id.isBlank()) {
        p.error = "input row " + p.inputRow + ": missing or empty id";
        return p;
      }
      try {
        p.params = plan.generation().resolve(cols.overrides(row), p.id, p.sample);
      } catch (IllegalArgumentException e) {
        throw new InvalidRowException(e.getMessage());
      }
      // Structured output (issue 13): the row's json_schema or choice column, else the job's constraint.
      p.constraint = dev.jgen.structured.OutputConstraint.forRow(plan.generation().constraint(),
          cols.column(row, dev.jgen.structured.OutputConstraint.COLUMN_JSON_SCHEMA),
          cols.column(row, dev.jgen.structured.OutputConstraint.COLUMN_CHOICE));
      p.prompt = translator.prepare(cols.chat(row), p.params.maxNewTokens());
      p.duplicateOf = cols.duplicateOf(row);
      if (engine != null && p.duplicateOf == null) {
        p.submittedNanos = System.nanoTime();
        p.completion = engine.submit(new CompletionRequest(plan.runId() + "/" + p.id + "/" + p.sample, p.prompt.text(),
            p.prompt.tokenIds(), p.params, p.constraint));
      }
    } catch (InvalidRowException e) {
      p.error = e.getMessage();
    } catch (RuntimeException e) {
      // Anything unexpected about one row (a tokenizer failure on odd text, say) must not cost the partition.
      p.error = "unexpected error preparing the row: " + e;
    }
    return p;
  }

  private Row finish(Pending p, EngineInfo info, String executorId) {
    Completion c = null;
    String error = p.error;
    long queueMs = 0;
    if (error == null && p.completion != null) {
      try {
        c = p.completion.get();
        long total = (System.nanoTime() - p.submittedNanos) / 1_000_000;
        queueMs = Math.max(0, total - c.latencyMs());
      } catch (ExecutionException | CompletionException e) {
        Throwable cause = e.getCause() == null ? e : e.getCause();
        error = "generation failed: " + cause.getMessage();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while generating", e);
      }
    }
    // Structured output (issue 13): every constrained output is checked here; a violation is an error row, text kept.
    String outputJson = null;
    if (error == null && c != null && p.constraint != null) {
      dev.jgen.structured.OutputValidator.Result check = dev.jgen.structured.OutputValidator.validate(p.constraint, c.text(),
          c.finishReason());
      error = check.error();
      outputJson = check.outputJson();
    }
    boolean ok = error == null;
    String status = !ok ? "error" : p.duplicateOf != null ? "skipped" : "ok";
    counters.rowDone(ok, p.prompt == null ? 0 : Math.max(0, p.prompt.tokenCount()), c == null ? 0 : c.completionTokens());
    PromptSpec spec = prompts.value();
    Object[] v = new Object[dev.jgen.delta.OutputSchema.SCHEMA.size()];
    int i = 0;
    v[i++] = plan.runId();
    v[i++] = p.id;
    v[i++] = p.sample;
    v[i++] = p.rowKey;
    v[i++] = p.inputRow;
    v[i++] = plan.attempt();
    v[i++] = status;
    v[i++] = error;
    v[i++] = p.duplicateOf;
    v[i++] = plan.modelId();
    v[i++] = plan.modelFingerprint();
    v[i++] = info == null ? "none" : info.kind();
    v[i++] = info == null ? null : info.version();
    v[i++] = info == null ? null : info.instanceId();
    v[i++] = spec.templateSha256();
    v[i++] = p.prompt == null ? null : p.prompt.text();
    v[i++] = p.prompt == null || p.prompt.tokenIds() == null ? null : p.prompt.tokenIds().length;
    v[i++] = info == null && p.prompt != null && p.prompt.tokenIds() != null ? boxed(p.prompt.tokenIds()) : null;
    v[i++] = c == null ? null : c.text();
    v[i++] = c == null ? null : c.finishReason();
    v[i++] = c == null ? null : c.completionTokens();
    v[i++] = p.params == null ? null : p.params.seed();
    v[i++] = p.params == null ? null : paramsRow(p.params);
    v[i++] = p.prompt == null || p.prompt.attributes().isEmpty() ? null : attributesRow(p.prompt.attributes());
    v[i++] = p.prompt == null || p.prompt.warnings().isEmpty() ? null : p.prompt.warnings().toArray(String[]::new);
    v[i++] = c == null ? null : queueMs;
    v[i++] = c == null ? null : c.latencyMs();
    v[i++] = executorId;
    v[i++] = new Timestamp(System.currentTimeMillis());
    v[i++] = outputJson; // structured output (issue 13)
    v[i++] = p.constraint == null ? null : p.constraint.sha256();
    return RowFactory.create(v);
  }

  private static Integer[] boxed(int[] ids) {
    Integer[] out = new Integer[ids.length];
    for (int k = 0; k < ids.length; k++) {
      out[k] = ids[k];
    }
    return out;
  }

  private static Row paramsRow(SamplingParams p) {
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

  /** Live counts for the driver's progress line. */
  record RunCounters(LongAccumulator rows, LongAccumulator ok, LongAccumulator promptTokens, LongAccumulator completionTokens,
      LongAccumulator modelLoadMs) implements java.io.Serializable {
    void rowDone(boolean isOk, int prompt, int completion) {
      rows.add(1);
      if (isOk) {
        ok.add(1);
      }
      promptTokens.add(prompt);
      completionTokens.add(completion);
    }
  }
}
