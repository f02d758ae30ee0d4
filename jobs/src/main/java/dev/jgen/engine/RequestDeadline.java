package dev.jgen.engine;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A bound on every engine request ({@code engine.request_timeout_s}), whatever the engine: a request not answered in
 * time fails as a run error and is cancelled in the engine (which frees its slot), so no task waits for an answer that
 * never comes.
 */
public final class RequestDeadline {
  /** Seconds a request may take when {@code engine.request_timeout_s} is 0: a base plus a bound per new token. */
  public static final int AUTO_BASE_S = 300;
  public static final int AUTO_PER_TOKEN_S = 2;

  private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "jgen-request-deadlines");
    t.setDaemon(true);
    return t;
  });

  private RequestDeadline() {}

  /**
   * The timeout of a request generating up to {@code maxNewTokens}: {@code configuredS} when positive, else
   * {@value #AUTO_BASE_S} s plus {@value #AUTO_PER_TOKEN_S} s per token (CPU rates of big models are around one token
   * a second per sequence, and a request may wait for a whole generation in the engine's queue before it starts).
   */
  public static Duration of(int configuredS, int maxNewTokens) {
    return Duration.ofSeconds(configuredS > 0 ? configuredS : AUTO_BASE_S + (long) AUTO_PER_TOKEN_S * Math.max(0, maxNewTokens));
  }

  /**
   * {@code request} with a deadline: the returned future completes as the request does, or fails after
   * {@code timeout} with a run error naming the timeout, the request then cancelled. Cancelling the returned future
   * cancels the request.
   */
  public static <T> CompletableFuture<T> bound(CompletableFuture<T> request, Duration timeout, String what) {
    CompletableFuture<T> bounded = new CompletableFuture<>() {
      @Override
      public boolean cancel(boolean mayInterruptIfRunning) {
        request.cancel(mayInterruptIfRunning);
        return super.cancel(mayInterruptIfRunning);
      }
    };
    ScheduledFuture<?> timer = TIMER.schedule(() -> {
      if (bounded.completeExceptionally(new EngineException(what + ": no answer within " + timeout.toSeconds()
          + " s (engine.request_timeout_s); the request was cancelled"))) {
        request.cancel(true);
      }
    }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    request.whenComplete((v, e) -> {
      timer.cancel(false);
      if (e == null) {
        bounded.complete(v);
      } else {
        bounded.completeExceptionally(e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e);
      }
    });
    return bounded;
  }
}
