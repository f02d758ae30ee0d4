package dev.jgen.engine.serving;

import dev.jgen.engine.EngineSpec;
import java.io.IOException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When a failed call is tried again, and after how long: 503 (a full job queue), 429 and other 5xx, timeouts and any
 * I/O failure (refused, reset, closed) are retried with exponential backoff and jitter, up to {@code retries} times;
 * other 4xx fail at once (the request itself is wrong).
 */
record RetryPolicy(int retries, long baseMs, long maxMs) {
  static RetryPolicy of(EngineSpec spec) {
    return new RetryPolicy(spec.intOption("retries", 5), spec.intOption("retry_base_ms", 200), spec.intOption("retry_max_ms", 10_000));
  }

  static boolean retryableStatus(int status) {
    return status == 503 || status == 429 || status >= 500;
  }

  /**
   * A status that blames the request's content (400 bad request, 413 too large, 422 unprocessable: a prompt too long,
   * a schema the server cannot compile): a row error. Any other non-retryable status (401, 403, 404...) is the
   * configuration's and a run error, as is a retryable one after its retries.
   */
  static boolean rowStatus(int status) {
    return status == 400 || status == 413 || status == 422;
  }

  static boolean retryable(Throwable cause) {
    return cause instanceof IOException; // HttpTimeoutException and ConnectException are IOExceptions
  }

  /** Whether a call that has made {@code attempts} attempts may make another. */
  boolean mayRetry(int attempts) {
    return attempts <= retries;
  }

  /** The wait before attempt {@code attempts + 1}: half the capped exponential, plus up to as much again at random. */
  long delayMs(int attempts) {
    long cap = Math.min(maxMs, baseMs << Math.min(20, Math.max(0, attempts - 1)));
    return cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1);
  }
}
