package dev.jgen.engine;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

/**
 * Streams inputs through an engine with up to {@code size} requests in flight and yields each result as soon as it
 * completes, in completion order. A long generation therefore never holds back the rows behind it: the moment any
 * request finishes, its slot is refilled from the input (an input-ordered window stops submitting while its head is
 * still generating, and the engine's slots empty behind it). Outputs are joined on their ids, never on order.
 * Memory stays bounded by the window whatever the number of inputs.
 *
 * <p>{@link #cancelAll()} cancels every request still in flight: a Spark task that is killed or fails calls it from its
 * completion listener, so the engine frees the slots at once instead of finishing generations nobody will read.
 *
 * @param <I> an input (a Spark row, a conversation)
 * @param <P> an input started: typically it holds the request's future
 * @param <O> a finished output
 */
public final class CompletionWindow<I, P, O> implements Iterator<O> {
  private final Iterator<I> input;
  private final int size;
  private final Function<I, P> start;
  private final Function<P, CompletableFuture<?>> pending;
  private final Function<P, CompletableFuture<?>> advance;
  private final Function<P, O> finish;
  private final LinkedBlockingQueue<P> completed = new LinkedBlockingQueue<>();
  private final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();
  private int started;
  private int emitted;
  private java.util.function.Supplier<java.time.Duration> stallLimit = () -> DEFAULT_STALL_LIMIT;
  private java.util.function.Function<String, RuntimeException> onStall = IllegalStateException::new;
  /** When the requests in flight are cancelled and their items dropped unwritten (a stopped attempt); MAX: never. */
  private java.util.function.LongSupplier cancelAt = () -> Long.MAX_VALUE;
  /** Set once the window stopped: no item is started or advanced any more, and cancelled ones are dropped. */
  private boolean stopped;
  private int dropped;
  /** Each started item's current request (to tell a cancelled one from one that finished). */
  private final java.util.Map<P, CompletableFuture<?>> current = new java.util.IdentityHashMap<>();

  /** How long {@link #next()} waits for a completion when no {@link #stallLimit} was set. */
  public static final java.time.Duration DEFAULT_STALL_LIMIT = java.time.Duration.ofHours(1);

  /**
   * @param start prepares an input and submits it (must not block on the engine)
   * @param pending the started input's request, or null when nothing was submitted (an error row, a dry run)
   * @param finish builds the output of a started input whose request is done (never blocks)
   */
  public CompletionWindow(Iterator<I> input, int size, Function<I, P> start, Function<P, CompletableFuture<?>> pending,
      Function<P, O> finish) {
    this(input, size, start, pending, p -> null, finish);
  }

  /**
   * A window over multi-step items (a conversation's turns): when an item's request completes, {@code advance} reads
   * it and submits the item's next request (returned), or returns null when the item is done and may be finished. The
   * next turn of a conversation therefore starts the moment its previous turn completes, with no barrier across the
   * partition between turns, and the item keeps its place in the window.
   */
  public CompletionWindow(Iterator<I> input, int size, Function<I, P> start, Function<P, CompletableFuture<?>> pending,
      Function<P, CompletableFuture<?>> advance, Function<P, O> finish) {
    this.input = input;
    this.size = Math.max(1, size);
    this.start = start;
    this.pending = pending;
    this.advance = advance;
    this.finish = finish;
  }

  /**
   * The longest {@link #next()} waits for any request to complete (read at each wait): every request is bounded by its
   * own deadline, so this only fires when an engine never completes a future (a bug); then every request in flight is
   * cancelled and {@code onStall} makes the exception thrown (the run error it is).
   */
  public CompletionWindow<I, P, O> stallLimit(java.util.function.Supplier<java.time.Duration> limit,
      java.util.function.Function<String, RuntimeException> onStall) {
    this.stallLimit = limit;
    this.onStall = onStall;
    return this;
  }

  /**
   * From the instant {@code atMillis} gives (read at each wait), the window stops: it starts no new item and submits no
   * next step, cancels every request in flight, and drops the items whose request was cancelled or is still to come:
   * they are never output (a stopped attempt writes only what finished; the next attempt generates the rest).
   */
  public CompletionWindow<I, P, O> cancelInFlightAt(java.util.function.LongSupplier atMillis) {
    this.cancelAt = atMillis;
    return this;
  }

  /** The next output, found by {@link #hasNext()} and handed out by {@link #next()}. */
  private O ready;
  private boolean hasReady;

  @Override
  public boolean hasNext() {
    if (hasReady) {
      return true;
    }
    fill();
    while (started > emitted + dropped) {
      if (awaitOne()) {
        return true;
      }
      fill();
    }
    return false;
  }

  @Override
  public O next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    O o = ready;
    ready = null;
    hasReady = false;
    return o;
  }

  /** Starts items from the input while the window has room (none once stopped). */
  private void fill() {
    while (!stopped && started - emitted - dropped < size && input.hasNext()) {
      P p = start.apply(input.next());
      started++;
      track(p, pending.apply(p));
    }
  }

  private void track(P p, CompletableFuture<?> f) {
    synchronized (current) {
      if (f == null) {
        current.remove(p);
      } else {
        current.put(p, f);
      }
    }
    if (f == null) {
      completed.add(p);
    } else {
      inFlight.add(f);
      requestStarted();
      f.whenComplete((v, e) -> {
        inFlight.remove(f);
        requestEnded();
        completed.add(p);
      });
    }
  }

  /**
   * Waits for the next item to complete: true with its output in {@link #ready}, or false when it was dropped (the
   * window stopped: its request was cancelled, or it needed another step).
   */
  private boolean awaitOne() {
    while (true) {
      P p;
      java.time.Duration limit = stallLimit.get();
      long stopAt = cancelAt.getAsLong();
      if (!stopped && System.currentTimeMillis() >= stopAt) {
        stopped = true;
        cancelAll();
      }
      long waitMillis = stopped || stopAt == Long.MAX_VALUE ? limit.toMillis()
          : Math.min(limit.toMillis(), Math.max(1, stopAt - System.currentTimeMillis()));
      try {
        p = completed.poll(waitMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        // Spark interrupts a task it kills: stop waiting, and let the task's completion listener cancel the rest.
        Thread.currentThread().interrupt();
        cancelAll();
        throw new IllegalStateException("interrupted while waiting for generations (the task was killed)", e);
      }
      if (p == null && waitMillis < limit.toMillis()) {
        continue; // woken at the stop's instant
      }
      if (p == null) {
        int n = inFlight();
        cancelAll();
        throw onStall.apply("no request of " + n + " in flight completed within " + limit.toSeconds()
            + " s, longer than any request's deadline: the engine lost them; they were cancelled");
      }
      CompletableFuture<?> f;
      synchronized (current) {
        f = current.remove(p);
      }
      if (stopped && f != null && f.isCancelled()) {
        dropped++; // cancelled by the stop: never output
        return false;
      }
      CompletableFuture<?> next = advance.apply(p);
      if (next != null) {
        if (stopped) {
          next.cancel(true); // a conversation with turns still to generate is not written half done
          dropped++;
          return false;
        }
        track(p, next);
        continue;
      }
      emitted++;
      ready = finish.apply(p);
      hasReady = true;
      return true;
    }
  }

  /** Requests in flight in every window of this JVM: what the engines of this executor are working on. */
  private static final java.util.concurrent.atomic.AtomicLong IN_FLIGHT_JVM = new java.util.concurrent.atomic.AtomicLong();
  /** Busy time (ms with at least one request in flight) and when the first request was sent, for the busy fraction. */
  private static long busyMillis;
  private static long busySince;
  private static long firstRequestAt;

  private static synchronized void requestStarted() {
    long now = System.currentTimeMillis();
    if (firstRequestAt == 0) {
      firstRequestAt = now;
    }
    if (IN_FLIGHT_JVM.getAndIncrement() == 0) {
      busySince = now;
    }
  }

  private static synchronized void requestEnded() {
    if (IN_FLIGHT_JVM.decrementAndGet() == 0) {
      busyMillis += System.currentTimeMillis() - busySince;
    }
  }

  /** Requests in flight in this JVM now. */
  public static long inFlightInThisJvm() {
    return IN_FLIGHT_JVM.get();
  }

  /** The share of time since this JVM's first request during which it had at least one in flight (0 before any). */
  public static synchronized double busyFractionInThisJvm() {
    if (firstRequestAt == 0) {
      return 0;
    }
    long now = System.currentTimeMillis();
    long busy = busyMillis + (IN_FLIGHT_JVM.get() > 0 ? now - busySince : 0);
    return now == firstRequestAt ? 1.0 : Math.min(1.0, busy / (double) (now - firstRequestAt));
  }

  /** Requests submitted and not yet completed. */
  public int inFlight() {
    return inFlight.size();
  }

  /** Cancels every request still in flight (the engine frees their slots); returns how many were cancelled. */
  public int cancelAll() {
    List<CompletableFuture<?>> all = new ArrayList<>(inFlight);
    int n = 0;
    for (CompletableFuture<?> f : all) {
      if (f.cancel(true)) {
        n++;
      }
    }
    return n;
  }
}
