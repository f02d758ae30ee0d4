package dev.jgen.generate;

import java.io.Serializable;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tells a broken run from bad rows, per executor JVM and run attempt: the outcomes of the last {@code window} rows
 * (over every task of the attempt in this JVM, so small tasks cannot hide a dead server) and whether each failed for a
 * systemic reason (engine, tokenizer, jgen itself). Row errors (the row's own content) count as healthy outcomes: a
 * file of bad rows never stops a run. When the share of systemic failures among the last {@code window} rows reaches
 * {@code maxRate}, the next row throws {@link RunFailedException} naming the count and one example message, and so
 * does every later row of the attempt in this JVM (Spark's task retries then fail fast too).
 */
public final class RunHealth {
  /**
   * The thresholds, decided on the driver from {@code job.max_failure_rate} and {@code job.failure_window}, and the
   * bound on each engine request, {@code engine.request_timeout_s} (0: sized from each row's max_new_tokens).
   */
  public record Limits(double maxRate, int window, int requestTimeoutS) implements Serializable {
    public Limits(double maxRate, int window) {
      this(maxRate, window, 0);
    }
  }

  private static final Map<String, RunHealth> BY_ATTEMPT = new ConcurrentHashMap<>();

  private final Limits limits;
  private final boolean[] systemic;
  private int next;
  private int seen;
  private int failures;
  private String example;
  private volatile String tripped;

  RunHealth(Limits limits) {
    this.limits = limits;
    this.systemic = new boolean[Math.max(1, limits.window())];
  }

  /** The health of one run attempt in this JVM, shared by all its tasks. */
  public static RunHealth of(String attemptKey, Limits limits) {
    return BY_ATTEMPT.computeIfAbsent(attemptKey, k -> new RunHealth(limits));
  }

  /** A row that ended well, or with a row error. */
  public void healthy() {
    record(false, null);
  }

  /** The limits this health judges by. */
  public Limits limits() {
    return limits;
  }

  /**
   * The engine is gone (its process died, it broke the protocol): the run stops now, whatever the rate; every later
   * row of the attempt in this JVM throws {@link RunFailedException} with this message.
   */
  public synchronized void stop(String message) {
    record(true, message);
    if (tripped == null) {
      tripped = "the engine was lost: " + message;
    }
  }

  /** A row that failed for an engine, tokenizer or internal reason. */
  public void systemicFailure(String rowMessage) {
    record(true, rowMessage);
  }

  private synchronized void record(boolean failed, String message) {
    if (systemic[next]) {
      failures--;
    }
    systemic[next] = failed;
    next = (next + 1) % systemic.length;
    seen = Math.min(seen + 1, systemic.length);
    if (failed) {
      failures++;
      example = message;
    }
    // Judge only a full window: the first failures of a run say little, and a tiny run (fewer rows than the window)
    // then keeps its error rows, as a file of bad rows would.
    if (tripped == null && seen == systemic.length && failures >= Math.max(1, Math.ceil(limits.maxRate() * systemic.length))) {
      tripped = failures + " of the last " + systemic.length + " rows failed for engine or internal reasons (job.max_failure_rate="
          + limits.maxRate() + ", job.failure_window=" + limits.window() + "); for example: " + example;
    }
  }

  /**
   * At the end of a task: a run shorter than the window is judged on the rows it has, so a dead server under a small
   * run still stops it instead of leaving a table of error rows and exit code 0.
   */
  public synchronized void checkAtEnd() {
    if (tripped == null && seen < systemic.length && failures > 0 && failures >= Math.ceil(limits.maxRate() * seen)) {
      tripped = failures + " of " + seen + " rows failed for engine or internal reasons (job.max_failure_rate="
          + limits.maxRate() + "); for example: " + example;
    }
    check();
  }

  /** Throws when the run must stop; called before each row is started. */
  public void check() {
    String t = tripped;
    if (t != null) {
      throw new RunFailedException(t);
    }
  }
}
