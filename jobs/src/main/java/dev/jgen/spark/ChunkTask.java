package dev.jgen.spark;

import dev.jgen.engine.CompletionWindow;
import java.io.Serializable;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.TaskCompletionListener;

/**
 * The executor side of one chunk's time limit, shared by every planner's tasks: a task starts new items only during
 * {@code job.commit_interval_s} from its own start; after that its input is read to the end without generating, and
 * the position of every item it did not start goes back to the driver (an accumulator, merged only for tasks that
 * succeed), which plans them again. A chunk therefore commits at least that often, whatever the engine's speed, and
 * nothing is lost or generated twice.
 */
public final class ChunkTask {
  private ChunkTask() {}

  /** An item's position in the run (input row x samples + sample): chunks are cut and resumed by it. */
  public interface Position<T> extends Serializable {
    long of(T item);
  }

  /**
   * What a chunk's tasks report: rows written, the positions of items they did not start, and {@code inputDone} (1 per
   * task once it starts no new item: its input is exhausted or its time is up; the driver hears it from the executor's
   * heartbeat, before the task has drained its generations in flight, and starts the next chunk then); {@code group}
   * is the attempt's Spark job group, whose lock the tasks check where they run in the driver's JVM (null: none).
   */
  public record Accounting(LongAccumulator written, CollectionAccumulator<Long> unstarted, LongAccumulator inputDone,
      long taskMillis, String group, RunStop.Limits stop) implements Serializable {
    /** This JVM's meter of the attempt's budget and deadline. */
    public RunStop.Meter meter() {
      return RunStop.meter(group == null ? "" : group, stop == null ? RunStop.Limits.NONE : stop);
    }

    /** A finished generation's tokens, toward the attempt's budget. */
    public void spent(long promptTokens, long completionTokens) {
      if (stop != null && stop.any()) {
        meter().add(promptTokens, completionTokens);
      }
    }
  }

  /** The lock checks of the attempts this JVM's driver is running, by job group. */
  private static final java.util.Map<String, Runnable> LOCAL_LOCKS = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Until the returned release runs, the tasks of {@code group} that run in this JVM (local mode: every task) call
   * {@code lockCheck} before each row they emit and before their output ends. A driver that was paused past its lease
   * (SIGSTOP, a long GC) thus fails its chunks' tasks the moment it runs again, before their rows reach a commit,
   * instead of racing its own heartbeat to the Delta log. Executors in other JVMs have no entry: on a cluster the
   * driver's checks (before each chunk, and its heartbeat cancelling the job group) are what stops them.
   */
  static Runnable guard(String group, Runnable lockCheck) {
    LOCAL_LOCKS.put(group, lockCheck);
    return () -> LOCAL_LOCKS.remove(group, lockCheck);
  }

  private static void checkLocalLock(Accounting accounting) {
    Runnable check = accounting.group() == null ? null : LOCAL_LOCKS.get(accounting.group());
    if (check != null) {
      check.run();
    }
  }

  /** The input of a task, bounded in time. */
  public static final class Bounded<T> implements Iterator<T> {
    private final Iterator<T> input;
    private final long deadline;
    private final Accounting accounting;
    private final Position<T> position;
    /** At most this many items left when the time limit strikes: they are started all the same (the task's tail). */
    private final int tail;
    /** Items read past the time limit to see whether the input ends within {@link #tail}: started or reported first. */
    private final java.util.ArrayDeque<T> ahead = new java.util.ArrayDeque<>();
    /** Whether the time limit struck with at most {@link #tail} items left: those are finished, not cut. */
    private boolean finishingTail;
    /** Set once no new item will be started: {@code inputDone} counted once per task. */
    private boolean ended;

    Bounded(Iterator<T> input, Accounting accounting, Position<T> position, int tail) {
      this.input = input;
      this.deadline = accounting.taskMillis() <= 0 ? Long.MAX_VALUE : System.currentTimeMillis() + accounting.taskMillis();
      this.accounting = accounting;
      this.position = position;
      this.tail = Math.max(0, tail);
    }

    @Override
    public boolean hasNext() {
      if (ended) {
        return false;
      }
      // A budget or deadline reached stops the start of new items as the task's time limit does (the items left are
      // reported, and the next attempt generates them).
      if (admitting() && (!ahead.isEmpty() || input.hasNext()) && (System.currentTimeMillis() < deadline || tailIsShort())) {
        return true;
      }
      ended = true;
      accounting.inputDone().add(1);
      return false;
    }

    /**
     * Past the time limit: whether the task's input ends within {@link #tail} more items. Cut there, they would come
     * back as a chunk of their own, started after this one commits, generated with the engine mostly idle (issue 28
     * item 5: 64 rows on 16 sequences went as 58 then 6, and the run lost a fifth of its speed). Finished here, they
     * delay this commit by at most one window of rows.
     */
    private boolean tailIsShort() {
      if (finishingTail) {
        return true;
      }
      while (ahead.size() <= tail && input.hasNext()) {
        ahead.add(input.next());
      }
      finishingTail = ahead.size() <= tail;
      return finishingTail;
    }

    @Override
    public T next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return ahead.isEmpty() ? input.next() : ahead.poll();
    }

    private boolean admitting() {
      return accounting.stop() == null || !accounting.stop().any() || accounting.meter().admitting();
    }

    /** At the end of the task: reports the items the deadline left unstarted. */
    public void reportRest() {
      while (!ahead.isEmpty()) {
        accounting.unstarted().add(position.of(ahead.poll()));
      }
      while (input.hasNext()) {
        accounting.unstarted().add(position.of(input.next()));
      }
    }
  }

  /** No tail: the time limit cuts wherever it strikes. */
  public static <T> Bounded<T> bound(Iterator<T> input, Accounting accounting, Position<T> position) {
    return new Bounded<>(input, accounting, position, 0);
  }

  /** As {@link #bound(Iterator, Accounting, Position)}, finishing the input when at most {@code tail} items are left. */
  public static <T> Bounded<T> bound(Iterator<T> input, Accounting accounting, Position<T> position, int tail) {
    return new Bounded<>(input, accounting, position, tail);
  }

  /**
   * A task's output: the window's results as they complete, each counted as written. A task that is killed or fails
   * cancels its generations still in flight (the engine frees their slots); at the end of the input, the items the
   * time limit left are reported and {@code atEnd} runs (the run's health check).
   */
  public static <T, O> Iterator<O> outputs(CompletionWindow<T, ?, O> window, Bounded<T> bounded, Accounting accounting,
      Runnable atEnd) {
    TaskContext task = TaskContext.get();
    if (task != null) {
      task.addTaskCompletionListener((TaskCompletionListener) ctx -> window.cancelAll());
    }
    if (accounting.stop() != null && accounting.stop().any()) {
      // Once a budget or deadline stopped the attempt, rows still in flight after the grace are cancelled, not written.
      RunStop.Meter meter = accounting.meter();
      window.cancelInFlightAt(meter::cancelInFlightAtMillis);
    }
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        if (window.hasNext()) {
          return true;
        }
        checkLocalLock(accounting);
        bounded.reportRest();
        atEnd.run();
        return false;
      }

      @Override
      public O next() {
        O out = window.next();
        checkLocalLock(accounting);
        accounting.written().add(1);
        return out;
      }
    };
  }
}
