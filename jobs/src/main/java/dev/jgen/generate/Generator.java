package dev.jgen.generate;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.EngineLostException;
import dev.jgen.engine.RequestDeadline;
import dev.jgen.engine.SamplingParams;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.InvalidRowException;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.structured.OutputConstraint;
import dev.jgen.structured.OutputValidator;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a prepared row meets the model, as DJL's {@code Predictor} is: the prompt translator renders and
 * tokenizes (input side), the engine runs, and this class owns submission, error mapping and timings. Every planner
 * (plain generation, MT-Bench turns, self-chat turns) goes through it, so a row error and a run error mean the same
 * everywhere:
 * <ul>
 *   <li>a <b>row error</b> is the row's own content (bad parameters, a conversation the template rejects, a prompt
 *       too long): the row fails, the run goes on;
 *   <li>a <b>run error</b> is the engine's, the tokenizer's or jgen's own fault: the row fails too, and it counts
 *       towards {@link RunHealth}, which stops the run when such failures dominate; an engine that is lost
 *       ({@link EngineLostException}: its process died) stops the run at once.
 * </ul>
 * An engine failure is classified by the engine ({@link EngineException#isRowError()}): what the row itself holds (its
 * prompt ids, schema, grammar, parameters) that the engine refuses is a row error; a timeout, a server error after its
 * retries, a dead process or a broken protocol is a run error. Every request is bounded by its deadline
 * ({@code engine.request_timeout_s}, {@link RequestDeadline}). Engines never edit prompts.
 */
public final class Generator {
  private static final Logger LOG = LoggerFactory.getLogger(Generator.class);

  private final PromptTranslator translator;
  private final Engine engine;
  private final RunHealth health;
  /** The longest deadline handed out so far: the window waits no longer than this (plus a margin) for a completion. */
  private final java.util.concurrent.atomic.AtomicLong longestDeadlineMs = new java.util.concurrent.atomic.AtomicLong();

  /** @param engine null for a dry run: prompts are rendered and tokenized, nothing is generated */
  public Generator(PromptTranslator translator, Engine engine, RunHealth health) {
    this.translator = translator;
    this.engine = engine;
    this.health = health;
  }

  /** Requests worth keeping in flight from one task: twice the engine's capacity, so it stays full while results are read. */
  public int window() {
    return engine == null ? 1 : Math.max(1, engine.capacity() * 2);
  }

  /** The engine's identity for lineage columns, null for a dry run. */
  public EngineInfo engineInfo() {
    return engine == null ? null : engine.info();
  }

  public PromptTranslator translator() {
    return translator;
  }

  /**
   * How long a task's window may wait for any of its requests to complete: the longest request deadline so far plus a
   * minute. Only an engine that never completes a future (a bug) reaches it.
   */
  public java.time.Duration stallLimit() {
    return java.time.Duration.ofMillis(Math.max(longestDeadlineMs.get(),
        RequestDeadline.of(health.limits().requestTimeoutS(), 0).toMillis())).plusSeconds(60);
  }

  /** Stops the run if this JVM has seen too many run errors of the attempt. */
  public void checkHealth() {
    health.check();
  }

  /** At the end of a task's input: judges a run too short to fill the failure window. */
  public void checkHealthAtEnd() {
    health.checkAtEnd();
  }

  /** A row that failed before reaching the generator (a missing id, a duplicate): a row error. */
  public Generation rowError(String message) {
    Generation g = new Generation();
    g.error = message;
    health.healthy();
    return g;
  }

  /**
   * Renders, tokenizes and submits one request; never blocks on the engine. Problems come back inside the
   * {@link Generation}, already classified.
   *
   * @param submit false to render only (a dry run, or a row that reuses another row's output)
   */
  public Generation start(String requestId, ChatInput chat, SamplingParams params, boolean submit) {
    return start(requestId, chat, params, null, submit);
  }

  /**
   * As {@link #start(String, ChatInput, SamplingParams, boolean)}, with an output constraint (structured output): the
   * engine is asked to honour it, and {@link Generation#finish()} checks the output against it whatever the engine
   * promised.
   */
  public Generation start(String requestId, ChatInput chat, SamplingParams params, OutputConstraint constraint, boolean submit) {
    return start(requestId, chat, params, constraint, null, submit, false);
  }

  /** The same with a LoRA adapter (issue 31), or null for the base model. */
  public Generation start(String requestId, ChatInput chat, SamplingParams params, OutputConstraint constraint,
      dev.jgen.engine.LoraAdapter adapter, boolean submit) {
    return start(requestId, chat, params, constraint, adapter, submit, false);
  }

  /**
   * A Magpie instruction (job.kind=magpie): the prompt is the template's pre-query prefix for the row's system and
   * attributes ({@link PromptTranslator#preparePreQuery}), and the generation stops at the template's end of a user
   * turn (added to the row's stop strings) or at the model's end of sequence.
   */
  public Generation startPreQuery(String requestId, ChatInput chat, SamplingParams params, boolean submit) {
    return start(requestId, chat, params, null, null, submit, true);
  }

  private Generation start(String requestId, ChatInput chat, SamplingParams params, OutputConstraint constraint,
      dev.jgen.engine.LoraAdapter adapter, boolean submit, boolean preQuery) {
    Generation g = new Generation();
    g.params = params;
    g.constraint = constraint;
    try {
      if (preQuery) {
        String end = translator.preQuery(chat).endOfTurn();
        if (!end.isEmpty() && !params.stop().contains(end)) {
          java.util.List<String> stop = new java.util.ArrayList<>(params.stop());
          stop.add(end);
          params = new SamplingParams(params.maxNewTokens(), params.temperature(), params.topP(), params.topK(),
              params.repetitionPenalty(), params.seed(), stop);
          g.params = params;
        }
      }
      g.prompt = preQuery ? translator.preparePreQuery(chat, params.maxNewTokens()) : translator.prepare(chat, params.maxNewTokens());
      if (submit && engine != null) {
        g.submittedNanos = System.nanoTime();
        java.time.Duration deadline = RequestDeadline.of(health.limits().requestTimeoutS(), params.maxNewTokens());
        longestDeadlineMs.accumulateAndGet(deadline.toMillis(), Math::max);
        g.future = RequestDeadline.bound(
            engine.submit(new CompletionRequest(requestId, g.prompt.text(), g.prompt.tokenIds(), params, constraint, adapter)), deadline,
            "request " + requestId);
      } else {
        health.healthy();
      }
    } catch (InvalidRowException e) {
      g.error = e.getMessage();
      health.healthy();
    } catch (RuntimeException e) {
      // Not the row's content: the tokenizer, the interpreter or the engine broke. Logged with its stack trace, and
      // counted as a run error.
      LOG.error("internal error preparing request {}", requestId, e);
      g.error = "internal error preparing the row: " + e;
      g.systemic = true;
      health.systemicFailure(requestId + ": " + g.error);
    }
    return g;
  }

  /** One request between submission and its outcome. */
  public final class Generation {
    private PreparedPrompt prompt;
    private SamplingParams params;
    private OutputConstraint constraint;
    private String outputJson;
    private String error;
    private boolean systemic;
    private CompletableFuture<Completion> future;
    private long submittedNanos;
    private Completion completion;
    private long queueMs;

    /** The engine's request while it runs; null when nothing was submitted. */
    public CompletableFuture<Completion> pending() {
      return error == null ? future : null;
    }

    /**
     * Reads the outcome once the request is done (a {@link dev.jgen.engine.CompletionWindow} calls it in completion
     * order, so it does not block there); maps an engine failure to a row message and counts it as a run error.
     */
    public Generation finish() {
      if (error != null || future == null || completion != null) {
        return this;
      }
      try {
        completion = future.get();
        long total = (System.nanoTime() - submittedNanos) / 1_000_000;
        queueMs = Math.max(0, total - completion.latencyMs());
        health.healthy();
        if (constraint != null) {
          // Checked on our side whatever the engine promised; a violation (or a truncated output) is the row's
          // error, its raw text kept.
          OutputValidator.Result check = OutputValidator.validate(constraint, completion.text(), completion.finishReason());
          error = check.error();
          outputJson = check.outputJson();
        }
      } catch (ExecutionException | CompletionException | CancellationException e) {
        Throwable cause = e.getCause() == null ? e : e.getCause();
        error = "generation failed: " + cause.getMessage();
        if (cause instanceof EngineException ee && ee.isRowError()) {
          // What the row holds, refused by the engine (its schema, grammar, token ids, length): the row's error alone.
          health.healthy();
        } else if (cause instanceof EngineLostException) {
          systemic = true;
          health.stop(error);
        } else {
          systemic = true;
          if (!(cause instanceof EngineException)) {
            LOG.error("engine failure", cause);
          }
          health.systemicFailure(error);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while generating", e);
      }
      return this;
    }

    public PreparedPrompt prompt() {
      return prompt;
    }

    public SamplingParams params() {
      return params;
    }

    /** The row's constraint (structured output), or null. */
    public OutputConstraint constraint() {
      return constraint;
    }

    /** The output as canonical JSON when a JSON-schema constraint validated it, else null. */
    public String outputJson() {
      return outputJson;
    }

    /** The row's error message, or null. */
    public String error() {
      return error;
    }

    /** Whether the error is a run error (engine, tokenizer, internal) rather than the row's content. */
    public boolean systemic() {
      return systemic;
    }

    /** The engine's completion, or null (an error, a dry run). */
    public Completion completion() {
      return completion;
    }

    /** Time the request waited before the engine took it (submission to first work). */
    public long queueMs() {
      return queueMs;
    }
  }
}
