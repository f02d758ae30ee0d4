package dev.jgen.engine;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.function.Function;

/**
 * Streams inputs through an engine with up to {@code size} requests in flight, and yields the results in input order.
 * Nothing is collected: memory is bounded by the window, whatever the number of inputs.
 *
 * @param <I> an input (a Spark row, a conversation)
 * @param <P> an input started: typically it holds the request's future
 * @param <O> a finished output
 */
public final class OrderedWindow<I, P, O> implements Iterator<O> {
  private final Iterator<I> input;
  private final int size;
  private final Function<I, P> start;
  private final Function<P, O> finish;
  private final ArrayDeque<P> inFlight = new ArrayDeque<>();

  /**
   * @param start prepares an input and submits it (must not block on the engine)
   * @param finish waits for a started input's result and builds the output
   */
  public OrderedWindow(Iterator<I> input, int size, Function<I, P> start, Function<P, O> finish) {
    this.input = input;
    this.size = Math.max(1, size);
    this.start = start;
    this.finish = finish;
  }

  @Override
  public boolean hasNext() {
    while (inFlight.size() < size && input.hasNext()) {
      inFlight.addLast(start.apply(input.next()));
    }
    return !inFlight.isEmpty();
  }

  @Override
  public O next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    return finish.apply(inFlight.removeFirst());
  }
}
