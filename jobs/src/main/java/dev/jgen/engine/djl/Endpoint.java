package dev.jgen.engine.djl;

import java.net.URI;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One server and its in-flight window, shared by every task of the executor. A request waits in {@link #pending} (never
 * on a thread) until a permit is free; whoever frees a permit or adds a request drains the queue, so the window refills
 * the moment a response arrives, whichever task the next request belongs to. That keeps the server's batch full across
 * partition boundaries: a finishing partition's last rows and the next partition's first rows share the same window.
 */
final class Endpoint {
  final URI base;
  /** GPU addresses the server runs on (launch mode), or the address it serves (endpoint mode); empty when unknown. */
  final List<String> gpus;
  final int window;
  private final Semaphore permits;
  private final Deque<Runnable> pending = new ArrayDeque<>();
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

  /** Queues a call; it starts (on this or another thread) as soon as the window has room. Never blocks. */
  void enqueue(Runnable call, boolean first) {
    synchronized (pending) {
      if (first) {
        pending.addFirst(call);
      } else {
        pending.addLast(call);
      }
    }
    drain();
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
        next = pending.pollFirst();
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
