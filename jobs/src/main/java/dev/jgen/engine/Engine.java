package dev.jgen.engine;

import java.util.concurrent.CompletableFuture;

/**
 * What runs the model. Deliberately narrow, like Delta Kernel's {@code Engine}: the Spark job hands over prepared
 * requests and reads completions; loading, batching, transport and retries stay behind this interface, so the job never
 * depends on llama.cpp or DJL Serving.
 *
 * <p>An engine is loaded once per executor JVM ({@link EngineRegistry}) and shared by all its tasks, which is why
 * submission is asynchronous: every task keeps requests in flight and the engine batches across them.
 */
public interface Engine extends AutoCloseable {

  EngineInfo info();

  /**
   * Starts one generation; never blocks the calling task. The future fails with {@link EngineException} for a request
   * that cannot complete: {@link EngineException#isRowError()} when the request's own content is the cause (the row
   * fails, the run goes on), otherwise a run error ({@link EngineLostException} when the engine itself is gone).
   */
  CompletableFuture<Completion> submit(CompletionRequest request);

  /** Requests worth keeping in flight at once to keep the engine full (its batch capacity). */
  int capacity();

  default java.util.Map<String, Double> serverMetrics() { return java.util.Map.of(); }

  /**
   * False once the engine is gone for good (its process died): the {@link EngineRegistry} then loads a new one for the
   * next task instead of handing this one out.
   */
  default boolean isAlive() {
    return true;
  }

  @Override
  void close();
}
