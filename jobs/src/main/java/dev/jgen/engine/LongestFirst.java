package dev.jgen.engine;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.PriorityQueue;
import java.util.function.ToIntFunction;

/**
 * Feeds a task's items largest token budget first, over a bounded read-ahead: it holds up to {@code lookahead} items and
 * always yields the one with the largest budget among them (ties in input order). The read-ahead starts at one item
 * and grows by one for every two yielded, up to {@code lookahead}. The slots of a continuous-batching
 * engine empty at the end of the input as its last generations finish one by one; fed in input order, that drain lasts
 * about one long generation (up to {@code max_new_tokens} steps with most slots idle). Fed this way, the short items
 * gather in the read-ahead and are the last ones started, so the final drain is short. This is the longest-processing-
 * time-first rule on the only length known before generating, the row's budget: it gains what budgets predict (all of
 * it when outputs run to their budget, nothing when every row has the same budget, where the order stays the input's).
 *
 * <p>Memory: at most {@code lookahead} items held. Outputs are keyed, never ordered, so no caller depends on the order.
 */
public final class LongestFirst<I> implements Iterator<I> {
  private final Iterator<I> input;
  private final int lookahead;
  private final ToIntFunction<I> budget;
  private final PriorityQueue<Held<I>> held;
  private long arrivals;
  private long yielded;

  private record Held<I>(I item, int budget, long arrival) {}

  /**
   * @param lookahead items read ahead (at least 1: 1 is input order)
   * @param budget an item's token budget (must not throw: an item whose budget cannot be read gets the default)
   */
  public LongestFirst(Iterator<I> input, int lookahead, ToIntFunction<I> budget) {
    this.input = input;
    this.lookahead = Math.max(1, lookahead);
    this.budget = budget;
    this.held = new PriorityQueue<>(Math.min(this.lookahead, 1024),
        (a, b) -> a.budget() != b.budget() ? Integer.compare(b.budget(), a.budget()) : Long.compare(a.arrival(), b.arrival()));
  }

  @Override
  public boolean hasNext() {
    // The read-ahead grows with what was yielded (one more item held per two yielded) instead of starting full: a
    // full one at the start would send the longest rows of the first window first and in falling order, so they
    // would all finish together a few hundred steps later, a burst of answers the client has to turn into new
    // requests at once (the serving bench showed the slots 25-50% busy for 300 steps there). Rows fed in input order
    // at first finish spread out, as their lengths are.
    int target = (int) Math.min(lookahead, 1 + yielded / 2);
    while (held.size() < target && input.hasNext()) {
      I item = input.next();
      held.add(new Held<>(item, budget.applyAsInt(item), arrivals++));
    }
    return !held.isEmpty();
  }

  @Override
  public I next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    yielded++;
    return held.poll().item();
  }
}
