package dev.jgen.spark;

import java.io.Serializable;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;

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

  /** What a chunk's tasks report: rows written, and the positions of items they did not start. */
  public record Accounting(LongAccumulator written, CollectionAccumulator<Long> unstarted, long taskMillis)
      implements Serializable {}

  /** The input of a task, bounded in time. */
  public static final class Bounded<T> implements Iterator<T> {
    private final Iterator<T> input;
    private final long deadline;
    private final Accounting accounting;
    private final Position<T> position;

    Bounded(Iterator<T> input, Accounting accounting, Position<T> position) {
      this.input = input;
      this.deadline = accounting.taskMillis() <= 0 ? Long.MAX_VALUE : System.currentTimeMillis() + accounting.taskMillis();
      this.accounting = accounting;
      this.position = position;
    }

    @Override
    public boolean hasNext() {
      return System.currentTimeMillis() < deadline && input.hasNext();
    }

    @Override
    public T next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return input.next();
    }

    /** At the end of the task: reports the items the deadline left unstarted. */
    public void reportRest() {
      while (input.hasNext()) {
        accounting.unstarted().add(position.of(input.next()));
      }
    }
  }

  public static <T> Bounded<T> bound(Iterator<T> input, Accounting accounting, Position<T> position) {
    return new Bounded<>(input, accounting, position);
  }
}
