package dev.jgen.spark;

import java.io.Serializable;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An attempt's budget and deadline ({@code job.max_completion_tokens_total}, {@code job.max_prompt_tokens_total},
 * {@code job.deadline}): when one is reached, the attempt starts no new row, its rows in flight get
 * {@code job.stop_grace_s} to finish (then they are cancelled and never written), what finished is committed, and the
 * attempt ends as {@code stopped}. The next attempt continues the run with a fresh budget.
 *
 * <p>Tokens are metered where rows finish: a {@link Meter} per attempt in each JVM, which the tasks of that JVM add to
 * (in local mode, every task and the driver share it: the stop is seen by the next row); the driver also takes the
 * totals its accumulators report after each chunk. On a cluster an executor sees its own rows at once and the others'
 * only through the driver, which then starts no new chunk: a budget is exceeded by at most the chunks in flight.
 */
public final class RunStop {
  private RunStop() {}

  /** The limits, fixed on the driver when the attempt starts (absolute deadline; 0 or MAX: none). */
  public record Limits(long maxCompletionTokens, long maxPromptTokens, long deadlineAtMillis, long graceMillis)
      implements Serializable {
    public static final Limits NONE = new Limits(0, 0, Long.MAX_VALUE, 0);

    boolean any() {
      return maxCompletionTokens > 0 || maxPromptTokens > 0 || deadlineAtMillis != Long.MAX_VALUE;
    }
  }

  private static final Map<String, Meter> METERS = new ConcurrentHashMap<>();

  /** This JVM's meter of an attempt (its Spark job group), made on first use. */
  public static Meter meter(String group, Limits limits) {
    return METERS.computeIfAbsent(group, g -> new Meter(limits));
  }

  /** Forgets an attempt's meter (its end, on the driver). */
  static void release(String group) {
    METERS.remove(group);
  }

  /** What one JVM knows of an attempt's spending, and whether it has stopped. */
  public static final class Meter {
    private final Limits limits;
    private final AtomicLong promptTokens = new AtomicLong();
    private final AtomicLong completionTokens = new AtomicLong();
    private volatile long stoppedAtMillis;
    private volatile String stoppedBy;

    Meter(Limits limits) {
      this.limits = limits;
    }

    /** A finished row's tokens (in this JVM). */
    public void add(long prompt, long completion) {
      check(promptTokens.addAndGet(Math.max(0, prompt)), completionTokens.addAndGet(Math.max(0, completion)));
    }

    /** The attempt's totals as the driver's accumulators report them (rows of every executor, committed or not). */
    public void observeTotals(long prompt, long completion) {
      check(promptTokens.accumulateAndGet(prompt, Math::max), completionTokens.accumulateAndGet(completion, Math::max));
    }

    private void check(long prompt, long completion) {
      if (limits.maxCompletionTokens() > 0 && completion >= limits.maxCompletionTokens()) {
        stop("budget");
      } else if (limits.maxPromptTokens() > 0 && prompt >= limits.maxPromptTokens()) {
        stop("budget");
      }
    }

    private synchronized void stop(String why) {
      if (stoppedAtMillis == 0) {
        stoppedAtMillis = System.currentTimeMillis();
        stoppedBy = why;
      }
    }

    /** Whether a new row may start now (no budget reached, deadline not passed). */
    public boolean admitting() {
      if (stoppedAtMillis != 0) {
        return false;
      }
      if (System.currentTimeMillis() >= limits.deadlineAtMillis()) {
        stop("deadline");
        return false;
      }
      return true;
    }

    /** When rows still in flight are cancelled: the stop plus the grace (MAX while the attempt runs). */
    public long cancelInFlightAtMillis() {
      admitting();
      long at = stoppedAtMillis;
      return at == 0 ? Long.MAX_VALUE : at + limits.graceMillis();
    }

    /** "budget" or "deadline" once the attempt stopped, else null. */
    public String stoppedBy() {
      admitting();
      return stoppedBy;
    }

    public long completionTokens() {
      return completionTokens.get();
    }

    public long promptTokens() {
      return promptTokens.get();
    }

    public Limits limits() {
      return limits;
    }
  }
}
