package dev.jgen.engine.serving;

import java.net.URI;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One server and its in-flight window, shared by every task of the executor. A request waits in {@link #pending} (never
 * on a thread) until a permit is free; whoever frees a permit or adds a request drains the queue, so the window refills
 * the moment a response arrives, whichever task the next request belongs to. That keeps the server's batch full across
 * partition boundaries: a finishing partition's last rows and the next partition's first rows share the same window.
 *
 * <p>Queued calls go out oldest task first (Spark's task attempt ids grow with launch order), then in submission
 * order, retries ahead of all. Serving one partition at a time staggers the tasks: when the oldest task reaches the end
 * of its partition (writing its output, then the next task starting: a second or so with nothing to send), the other
 * tasks' queued rows are there to fill the batch. First-come-first-served would interleave the tasks' rows, so tasks
 * started together would also finish together and leave the server empty at every boundary.
 */
final class Endpoint {
  final URI base;
  /** GPU addresses the server runs on (launch mode), or the address it serves (endpoint mode); empty when unknown. */
  final List<String> gpus;
  final int window;
  private final Semaphore permits;
  private final PriorityQueue<Queued> pending = new PriorityQueue<>(
      Comparator.comparingLong(Queued::order).thenComparingLong(Queued::seq));
  private long seq;
  private final AtomicInteger inFlight = new AtomicInteger();
  final AtomicLong sent = new AtomicLong();
  final AtomicLong retried = new AtomicLong();
  final AtomicLong failed = new AtomicLong();

  Endpoint(URI base, List<String> gpus, int window) {
    this.base = base;
    this.gpus = List.copyOf(gpus);
    this.window = window;
    this.permits = new Semaphore(window);
  }

  /** A queued call; {@link #withdraw} takes it back out before it starts. */
  record Queued(long order, long seq, Runnable call) {}

  /**
   * Queues a call; it starts (on this or another thread) as soon as the window has room. Never blocks.
   *
   * @param order lower goes first: the submitting task's attempt id; {@link Long#MIN_VALUE} for a retry
   * @return the queue entry, for {@link #withdraw}
   */
  Queued enqueue(Runnable call, long order) {
    Queued q;
    synchronized (pending) {
      q = new Queued(order, seq++, call);
      pending.add(q);
    }
    drain();
    return q;
  }

  /** Removes a call that has not started (a cancelled row); false when it already left the queue. */
  boolean withdraw(Queued q) {
    synchronized (pending) {
      return pending.remove(q);
    }
  }

  /** Calls waiting for the window. */
  int queued() {
    synchronized (pending) {
      return pending.size();
    }
  }

  /** A call holding a permit finished (or is backing off): its permit goes to the next queued call. */
  void release() {
    inFlight.decrementAndGet();
    permits.release();
    drain();
  }

  private void drain() {
    while (true) {
      Runnable next;
      synchronized (pending) {
        if (pending.isEmpty() || !permits.tryAcquire()) {
          return;
        }
        next = pending.poll().call();
      }
      inFlight.incrementAndGet();
      next.run();
    }
  }

  /** Requests sent and not yet answered plus requests waiting for the window: the load a new request would join. */
  int load() {
    synchronized (pending) {
      return inFlight.get() + pending.size();
    }
  }

  int inFlight() {
    return inFlight.get();
  }

  @Override
  public String toString() {
    return base + (gpus.isEmpty() ? "" : " (GPU " + String.join(",", gpus) + ")");
  }
}
