package dev.jgen.engine.serving;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which server a row goes to. A task pinned to a GPU ({@code TaskContext.resources().get("gpu")}) uses the server of
 * that GPU (launch mode: the server whose group holds the address; endpoint mode with several URLs: the URL at the
 * address's index, modulo their count) while that server's window has room; otherwise, and for tasks without GPUs,
 * each request goes to the least-loaded server (Spark packs fractional GPU tasks onto one address first, which would
 * idle the others). Every server's window is shared by all tasks of the executor ({@link Endpoint}).
 */
final class Router {
  private final List<Endpoint> fixed; // endpoint mode
  private final ServerLauncher launcher; // launch mode
  private final AtomicInteger roundRobin = new AtomicInteger();

  Router(List<Endpoint> fixed) {
    this.fixed = List.copyOf(fixed);
    this.launcher = null;
  }

  Router(ServerLauncher launcher) {
    this.fixed = null;
    this.launcher = launcher;
  }

  /** The servers in use (launch mode: started so far). */
  List<Endpoint> servers() {
    return launcher != null ? launcher.endpoints() : fixed;
  }

  ServerLauncher launcher() {
    return launcher;
  }

  Endpoint route(String[] gpus) {
    Endpoint pinned = null;
    if (launcher != null) {
      pinned = launcher.endpointFor(gpus);
    } else if (fixed.size() == 1) {
      return fixed.get(0);
    } else if (gpus.length > 0) {
      Integer index = GpuGroups.numeric(gpus[0]);
      if (index != null) {
        pinned = fixed.get(Math.floorMod(index, fixed.size()));
      }
    }
    if (pinned != null && pinned.load() < pinned.window) {
      return pinned;
    }
    // No GPU, or the task's server already has a full window and queue: Spark packs fractional GPU tasks onto the
    // first address before the next, so strict pinning would leave the other servers idle. Take the least loaded.
    Endpoint least = leastLoaded(servers());
    return pinned != null && least.load() >= least.window ? pinned : least;
  }

  private Endpoint leastLoaded(List<Endpoint> list) {
    int n = list.size();
    int startAt = Math.floorMod(roundRobin.getAndIncrement(), n);
    Endpoint best = null;
    int bestLoad = Integer.MAX_VALUE;
    for (int i = 0; i < n; i++) {
      Endpoint e = list.get((startAt + i) % n);
      int load = e.load();
      if (load < bestLoad) {
        best = e;
        bestLoad = load;
      }
    }
    return best;
  }
}
