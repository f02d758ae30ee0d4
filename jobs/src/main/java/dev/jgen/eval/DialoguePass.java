package dev.jgen.eval;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.OrderedWindow;
import dev.jgen.engine.SamplingParams;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.InvalidRowException;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.prompt.PromptTranslator;
import java.io.Serializable;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;

/**
 * One Spark pass over dialogues: each dialogue that needs a generation in this pass (as its {@link Planner} decides) is
 * rendered with the model's template and submitted; the others pass through untouched. Requests stay in flight up to
 * the engine's capacity through the job's {@link OrderedWindow}, and dialogues come out in the order they came in.
 */
final class DialoguePass implements FlatMapFunction<Iterator<Dialogue>, Dialogue> {
  private static final long serialVersionUID = 1L;

  /** What a dialogue needs in a pass. */
  record Request(int turn, String kind, ChatInput chat, SamplingParams params) {}

  /** Decides each dialogue's generation in a pass and records its outcome. */
  interface Planner extends Serializable {
    /** The generation the dialogue needs in this pass, or null when it takes no part (done, failed, or shorter). */
    Request plan(Dialogue d, int pass);

    /** Records a generation that succeeded: the completion is the engine's, the text not yet stripped. */
    void accept(Dialogue d, Request r, PreparedPrompt prompt, Completion c, long latencyMs);

    /** Records a failure: the message names the turn; nothing later is generated for the dialogue. */
    default void fail(Dialogue d, Request r, PreparedPrompt prompt, String error) {
      d.error = "turn " + r.turn() + (r.kind().equals("answer") ? "" : " (" + r.kind() + ")") + ": " + error
          + "; nothing was generated after it";
    }
  }

  /** Counts of one pass, read on the driver. */
  record Counters(LongAccumulator generated, LongAccumulator failed, LongAccumulator promptTokens,
      LongAccumulator completionTokens) implements Serializable {}

  private final String runId;
  private final int pass;
  private final Planner planner;
  private final EngineSpec engineSpec;
  private final Broadcast<PromptSpec> prompts;
  private final Counters counters;

  DialoguePass(String runId, int pass, Planner planner, EngineSpec engineSpec, Broadcast<PromptSpec> prompts, Counters counters) {
    this.runId = runId;
    this.pass = pass;
    this.planner = planner;
    this.engineSpec = engineSpec;
    this.prompts = prompts;
    this.counters = counters;
  }

  private static final class Pending {
    Dialogue dialogue;
    Request request;
    PreparedPrompt prompt;
    String error;
    CompletableFuture<Completion> completion;
  }

  @Override
  public Iterator<Dialogue> call(Iterator<Dialogue> input) {
    PromptTranslator translator = PromptTranslator.shared(prompts.value());
    Engine engine = EngineRegistry.shared(engineSpec);
    EngineInfo info = engine.info();
    int window = Math.max(1, engine.capacity() * 2);
    return new OrderedWindow<>(input, window, d -> start(d, translator, engine), p -> finish(p, info));
  }

  private Pending start(Dialogue d, PromptTranslator translator, Engine engine) {
    Pending p = new Pending();
    p.dialogue = d;
    if (d.error != null) {
      return p;
    }
    try {
      p.request = planner.plan(d, pass);
      if (p.request == null) {
        return p;
      }
      p.prompt = translator.prepare(p.request.chat(), p.request.params().maxNewTokens());
      p.completion = engine.submit(new CompletionRequest(runId + "/" + d.rowKey + "/" + d.sample + "/" + pass,
          p.prompt.text(), p.prompt.tokenIds(), p.request.params()));
    } catch (InvalidRowException e) {
      p.error = e.getMessage();
    } catch (RuntimeException e) {
      p.error = "unexpected error preparing the prompt: " + e;
    }
    return p;
  }

  private Dialogue finish(Pending p, EngineInfo info) {
    Dialogue d = p.dialogue;
    if (p.request == null) {
      return d;
    }
    String error = p.error;
    Completion c = null;
    if (error == null) {
      try {
        c = p.completion.get();
      } catch (ExecutionException | CompletionException e) {
        Throwable cause = e.getCause() == null ? e : e.getCause();
        error = "generation failed: " + cause.getMessage();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while generating", e);
      }
    }
    d.engineKind = info.kind();
    d.engineVersion = info.version();
    d.engineInstance = info.instanceId();
    d.finishedMillis = System.currentTimeMillis();
    if (p.prompt != null) {
      counters.promptTokens().add(Math.max(0, p.prompt.tokenCount()));
    }
    if (error != null) {
      counters.failed().add(1);
      planner.fail(d, p.request, p.prompt, error);
    } else {
      counters.generated().add(1);
      counters.completionTokens().add(c.completionTokens());
      planner.accept(d, p.request, p.prompt, c, c.latencyMs());
    }
    return d;
  }
}
