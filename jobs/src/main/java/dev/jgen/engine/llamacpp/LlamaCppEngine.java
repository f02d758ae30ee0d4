package dev.jgen.engine.llamacpp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import de.kherud.llama.JgenTaskAccess;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.SamplingParams;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The embedded CPU engine: llama.cpp through java-llama.cpp, on a GGUF file. llama.cpp runs its own server loop with
 * {@code parallel} slots and continuous batching; this class only feeds it token ids and waits, one waiting thread per
 * slot, so concurrent tasks of the executor are batched together.
 */
final class LlamaCppEngine implements Engine {
  static final String VERSION = "java-llama.cpp 4.2.0 (llama.cpp b4916)";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final LlamaModel model;
  private final int parallel;
  private final ExecutorService waiters;
  private final EngineInfo info;
  /** Guards {@link #closing} against a submit() racing close(). */
  private final Object lifecycle = new Object();
  private boolean closing;
  private final Set<CompletableFuture<Completion>> inFlight = ConcurrentHashMap.newKeySet();
  private final AtomicInteger generating = new AtomicInteger();
  /** How long close() waits for the waiter threads (cancelled requests leave at their next token). */
  static final long CLOSE_WAIT_SECONDS = 60;

  LlamaCppEngine(String ggufPath, int threads, int parallel, int ctxPerSequence) {
    this.parallel = parallel;
    long start = System.nanoTime();
    LlamaCppLogging.route();
    ModelParameters params = LlamaCppLogging.quiet(new ModelParameters())
        .setModel(ggufPath)
        .setThreads(threads)
        .setThreadsBatch(threads)
        .setParallel(parallel)
        // Each slot gets ctx/parallel tokens of the context.
        .setCtxSize(ctxPerSequence * parallel)
        .setBatchSize(Math.min(2048, ctxPerSequence * parallel))
        .skipWarmup();
    try {
      this.model = new LlamaModel(params);
    } catch (RuntimeException e) {
      throw new EngineException("llama.cpp could not load " + ggufPath + ": " + e.getMessage() + LlamaCppLogging.hint(), e);
    }
    // Loading ran llama.cpp's common_init(), which took its core log back: point it at jgen's logging again.
    LlamaCppLogging.route();
    long loadMillis = (System.nanoTime() - start) / 1_000_000;
    AtomicInteger n = new AtomicInteger();
    this.waiters = Executors.newFixedThreadPool(parallel, r -> {
      Thread t = new Thread(r, "jgen-llamacpp-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.info = new EngineInfo("llamacpp", VERSION, UUID.randomUUID().toString(), loadMillis);
  }

  @Override
  public EngineInfo info() {
    return info;
  }

  @Override
  public int capacity() {
    return parallel;
  }

  /**
   * Runs on one of the {@code parallel} waiter threads. Cancelling the returned future (a killed Spark task, or
   * {@link #close()}) cancels the llama.cpp task and frees its slot: the waiter notices at its next result (one per
   * generated token) and calls java-llama.cpp's cancelCompletion. The cancel is never issued from another thread:
   * cancelCompletion drops the task's results, and a waiter blocked in receiveCompletion for that task would then wait
   * forever (server.hpp: recv() blocks until a result of the task arrives; a cancelled slot sends none).
   */
  @Override
  public CompletableFuture<Completion> submit(CompletionRequest request) {
    CompletableFuture<Completion> future = new CompletableFuture<>();
    synchronized (lifecycle) {
      if (closing) {
        future.completeExceptionally(new EngineException("the llama.cpp engine is closed"));
        return future;
      }
      inFlight.add(future);
    }
    future.whenComplete((c, e) -> inFlight.remove(future));
    try {
      waiters.execute(() -> {
        if (future.isDone()) {
          return; // cancelled while queued: nothing was sent to llama.cpp
        }
        try {
          future.complete(run(request, future));
        } catch (RuntimeException | Error e) {
          future.completeExceptionally(e);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      future.completeExceptionally(new EngineException("the llama.cpp engine is closed", e));
    }
    return future;
  }

  /** Requests in flight (queued or generating); for tests and close(). */
  int inFlight() {
    return inFlight.size();
  }

  /** Waiter threads inside llama.cpp right now (a task requested and not yet released); for tests. */
  int generating() {
    return generating.get();
  }

  private Completion run(CompletionRequest request, CompletableFuture<Completion> future) {
    if (request.promptTokenIds() == null) {
      throw new EngineException("llama.cpp is fed Hugging Face token ids, and this model has no tokenizer.json");
    }
    String task = taskJson(request);
    long start = System.nanoTime();
    int taskId;
    generating.incrementAndGet();
    try {
      taskId = JgenTaskAccess.request(model, task);
    } catch (IllegalStateException e) {
      generating.decrementAndGet();
      throw new EngineException("llama.cpp refused the request: " + e.getMessage(), e);
    }
    // Streaming: one result per generated token, except that llama.cpp (server.hpp process_token) sends nothing for a
    // token that leaves the text with an incomplete UTF-8 character: byte-fallback tokens of one character arrive as
    // one piece. java-llama.cpp 4.2.0 passes only the text and the stop flag to Java (jllama.cpp receiveCompletion;
    // the final result's tokens_predicted and stop_type stay in native code), so completion_tokens counts results,
    // which is exact unless the model spells a character with several byte tokens (see docs: known limits).
    StringBuilder text = new StringBuilder();
    int steps = 0;
    boolean cancelled = false;
    try {
      while (true) {
        if (future.isDone()) {
          // cancelled by the caller or by close(): stop generating and free the slot
          JgenTaskAccess.cancel(model, taskId);
          cancelled = true;
          break;
        }
        LlamaOutput out = JgenTaskAccess.receive(model, taskId);
        text.append(out.text);
        if (JgenTaskAccess.isStop(out)) {
          break;
        }
        steps++;
      }
    } catch (IllegalStateException e) {
      throw new EngineException("llama.cpp failed during generation: " + e.getMessage(), e);
    } finally {
      JgenTaskAccess.release(model, taskId);
      generating.decrementAndGet();
    }
    if (cancelled) {
      throw new java.util.concurrent.CancellationException("request " + request.requestId() + " cancelled");
    }
    long latency = (System.nanoTime() - start) / 1_000_000;
    int completionTokens = steps;
    String finish = completionTokens >= request.params().maxNewTokens() ? "length" : "stop";
    return new Completion(text.toString(), request.promptTokenIds().length, completionTokens, finish, latency);
  }

  static String taskJson(CompletionRequest request) {
    SamplingParams p = request.params();
    ObjectNode o = JSON.createObjectNode();
    ArrayNode ids = o.putArray("prompt");
    for (int id : request.promptTokenIds()) {
      ids.add(id);
    }
    o.put("n_predict", p.maxNewTokens());
    o.put("temperature", p.temperature());
    o.put("top_p", p.topP());
    o.put("top_k", p.topK());
    o.put("min_p", 0.0);
    o.put("repeat_penalty", p.repetitionPenalty());
    o.put("seed", p.seed());
    o.put("stream", true);
    // Reusing one slot's cache across unrelated prompts only saves work for shared prefixes; results stay the same.
    o.put("cache_prompt", true);
    ArrayNode stop = o.putArray("stop");
    p.stop().forEach(stop::add);
    // Structured output (issue 13): json_schema or grammar, as llama.cpp's params_from_json_cmpl reads them.
    dev.jgen.structured.ServerEncodings.addToLlamaCppTask(o, request.constraint());
    return o.toString();
  }

  /**
   * Cancels every request in flight, waits (bounded) for the waiter threads to leave native code, then frees the
   * model. A waiter can only be stuck while llama.cpp evaluates a long prompt (no result comes before the first
   * token); if one is still inside after {@link #CLOSE_WAIT_SECONDS}, the model is freed by a background thread once
   * it returns, never under it (freeing it earlier would crash the JVM).
   */
  @Override
  public void close() {
    synchronized (lifecycle) {
      if (closing) {
        return;
      }
      closing = true;
    }
    for (CompletableFuture<Completion> f : List.copyOf(inFlight)) {
      f.cancel(false);
    }
    waiters.shutdown();
    boolean idle;
    try {
      idle = waiters.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      idle = false;
    }
    if (idle) {
      model.close();
      return;
    }
    System.err.println("jgen: llama.cpp is still evaluating a prompt after " + CLOSE_WAIT_SECONDS
        + " s; the model is freed when it returns");
    Thread closer = new Thread(() -> {
      try {
        while (!waiters.awaitTermination(1, TimeUnit.MINUTES)) {
          // keep waiting: freeing the model under a waiter would crash the JVM
        }
        model.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "jgen-llamacpp-closer");
    closer.setDaemon(true);
    closer.start();
  }
}
