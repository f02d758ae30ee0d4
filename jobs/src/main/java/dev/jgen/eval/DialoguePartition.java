package dev.jgen.eval;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionWindow;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.generate.Generator;
import dev.jgen.generate.RunHealth;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.InvalidRowException;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.spark.ChunkTask;
import java.io.Serializable;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.util.LongAccumulator;

/**
 * The executor side of the multi-turn kinds (MT-Bench answers, self-chat): streams a partition's conversations through
 * the {@link Generator}, each one turn after another. Turn k+1 of a conversation is submitted the moment its turn k
 * completes (no barrier across the partition between turns), other conversations keep the engine full meanwhile, and
 * a finished conversation is emitted at once as one output row. A turn that fails (bad input, the engine) ends its
 * conversation as an error row naming the turn; nothing is generated after it. Run errors count towards
 * {@link RunHealth} as in every kind.
 */
final class DialoguePartition implements FlatMapFunction<Iterator<Dialogue>, Row> {
  private static final long serialVersionUID = 1L;

  /** A generation a conversation needs next. */
  record Request(int turn, String kind, ChatInput chat, SamplingParams params, dev.jgen.structured.OutputConstraint constraint,
      boolean preQuery) {
    Request(int turn, String kind, ChatInput chat, SamplingParams params) {
      this(turn, kind, chat, params, null, false);
    }

    Request(int turn, String kind, ChatInput chat, SamplingParams params, dev.jgen.structured.OutputConstraint constraint) {
      this(turn, kind, chat, params, constraint, false);
    }

    /** A Magpie instruction: the prompt is the template's pre-query prefix of the chat's system and attributes. */
    static Request preQuery(int turn, String kind, ChatInput chat, SamplingParams params) {
      return new Request(turn, kind, chat, params, null, true);
    }
  }

  /** Decides a conversation's next generation and records its outcome. */
  interface Planner extends Serializable {
    /** The generation the conversation needs at this step (1-based), or null when it is complete. */
    Request plan(Dialogue d, int step);

    /** Records a generation that succeeded: the completion is the engine's, the text not yet stripped. */
    void accept(Dialogue d, Request r, PreparedPrompt prompt, Completion c, long latencyMs);

    /** Records a failure: the message names the turn; nothing later is generated for the conversation. */
    default void fail(Dialogue d, Request r, String error) {
      d.error = "turn " + r.turn() + (r.kind().equals("answer") ? "" : " (" + r.kind() + ")") + ": " + error
          + "; nothing was generated after it";
    }
  }

  /** Builds a finished conversation's output row. */
  interface RowMaker extends Serializable {
    Row make(Dialogue d);
  }

  /** Counts read on the driver. */
  record Counters(LongAccumulator generated, LongAccumulator failed, LongAccumulator promptTokens,
      LongAccumulator completionTokens, LongAccumulator conversations, LongAccumulator modelLoadMs) implements Serializable {}

  /** What every task of a multi-turn run needs, fixed on the driver. */
  record Plan(String runId, int attempt, int samples, int maxSteps, EngineSpec engine, RunHealth.Limits health)
      implements Serializable {
    long position(Dialogue d) {
      return d.inputRow * samples + d.sample;
    }
  }

  private final Plan plan;
  private final Planner planner;
  private final RowMaker rows;
  private final Broadcast<PromptSpec> prompts;
  private final Counters counters;
  private final ChunkTask.Accounting accounting;

  DialoguePartition(Plan plan, Planner planner, RowMaker rows, Broadcast<PromptSpec> prompts, Counters counters,
      ChunkTask.Accounting accounting) {
    this.plan = plan;
    this.planner = planner;
    this.rows = rows;
    this.prompts = prompts;
    this.counters = counters;
    this.accounting = accounting;
  }

  /** One conversation in the window: its current request. */
  private static final class Pending {
    final Dialogue dialogue;
    int step;
    Request request;
    Generator.Generation generation;

    Pending(Dialogue dialogue) {
      this.dialogue = dialogue;
    }
  }

  @Override
  public Iterator<Row> call(Iterator<Dialogue> input) {
    PromptTranslator translator = PromptTranslator.shared(prompts.value());
    Engine engine;
    try {
      engine = EngineRegistry.shared(plan.engine(), loaded -> counters.modelLoadMs().add(loaded.loadMillis()));
    } catch (dev.jgen.engine.EngineException e) {
      throw new dev.jgen.generate.RunFailedException("the engine could not be loaded: " + e.getMessage(), e);
    }
    Generator generator = new Generator(translator, engine, RunHealth.of(plan.runId() + "/" + plan.attempt(), plan.health()));
    EngineInfo info = generator.engineInfo();
    Plan p = plan;
    ChunkTask.Bounded<Dialogue> bounded = ChunkTask.bound(input, accounting, p::position);
    CompletionWindow<Dialogue, Pending, Row> window = new CompletionWindow<>(bounded, generator.window(),
        d -> {
          generator.checkHealth();
          Pending x = new Pending(d);
          next(x, generator);
          return x;
        },
        x -> x.generation == null ? null : x.generation.pending(),
        x -> {
          if (x.request == null) {
            return null;
          }
          read(x, info);
          return next(x, generator);
        },
        x -> {
          counters.conversations().add(1);
          long prompt = 0;
          long completion = 0;
          for (Dialogue.Step step : x.dialogue.steps) {
            prompt += step.promptTokens() == null ? 0 : step.promptTokens();
            completion += step.completionTokens() == null ? 0 : step.completionTokens();
          }
          dev.jgen.spark.JgenMetrics.rowDone(x.dialogue.error == null, prompt, completion);
          return rows.make(x.dialogue);
        });
    window.stallLimit(generator::stallLimit, dev.jgen.generate.RunFailedException::new);
    return ChunkTask.outputs(window, bounded, accounting, generator::checkHealthAtEnd);
  }

  /** Plans and submits the conversation's next generation; returns its request, or null when the conversation is done. */
  private CompletableFuture<?> next(Pending x, Generator generator) {
    Dialogue d = x.dialogue;
    x.request = null;
    x.generation = null;
    if (d.error != null || x.step >= plan.maxSteps()) {
      return null;
    }
    x.step++;
    try {
      x.request = planner.plan(d, x.step);
    } catch (InvalidRowException e) {
      d.error = e.getMessage();
      return null;
    }
    if (x.request == null) {
      return null;
    }
    Request r = x.request;
    String requestId = plan.runId() + "/" + d.rowKey + "/" + d.sample + "/" + x.step;
    x.generation = r.preQuery() ? generator.startPreQuery(requestId, r.chat(), r.params(), true)
        : generator.start(requestId, r.chat(), r.params(), r.constraint(), true);
    if (x.generation.error() != null) {
      counters.failed().add(1);
      planner.fail(d, r, x.generation.error());
      x.request = null;
      return null;
    }
    return x.generation.pending();
  }

  /** Reads a completed generation into the conversation. */
  private void read(Pending x, EngineInfo info) {
    Dialogue d = x.dialogue;
    Generator.Generation g = x.generation.finish();
    d.engineKind = info.kind();
    d.engineVersion = info.version();
    d.engineInstance = info.instanceId();
    d.finishedMillis = System.currentTimeMillis();
    if (g.prompt() != null) {
      counters.promptTokens().add(Math.max(0, g.prompt().tokenCount()));
      accounting.spent(Math.max(0, g.prompt().tokenCount()), 0);
    }
    if (g.error() != null) {
      counters.failed().add(1);
      planner.fail(d, x.request, g.error());
    } else {
      Completion c = g.completion();
      counters.generated().add(1);
      counters.completionTokens().add(c.completionTokens());
      accounting.spent(0, c.completionTokens());
      planner.accept(d, x.request, g.prompt(), c, c.latencyMs());
    }
  }
}
