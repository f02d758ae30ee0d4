package dev.jgen.engine.serving;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which server a row goes to. A task pinned to a GPU ({@code TaskContext.resources().get("gpu")}) uses the server of
 * that GPU (launch mode: the server whose group holds the address; endpoint mode with several URLs: the URL at the
 * address's index, modulo their count) while that server's window has room; otherwise, and for tasks without GPUs,
 * each request goes to the least-loaded server (Spark packs fractional GPU tasks onto one address first, which would
 * idle the others). Every server's window is shared by all tasks of the executor ({@link Endpoint}).
 *
 * <p>Prefix affinity (issue 28): a request of a task that is not pinned carries the hash of its prompt's first tokens,
 * and goes to the server that hash names while that server is at most {@link #slack} requests busier than the least
 * loaded one (consistent hashing with bounded loads): rows that share a system prompt or few-shot block meet the same
 * server's prefix cache, and a prefix with more rows than one server can take spills over, so no server starves.
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
    return route(gpus, NO_PREFIX);
  }

  /** No prefix hash: the request is routed by load alone. */
  static final long NO_PREFIX = dev.jgen.engine.PromptPrefix.NONE;

  /**
   * How much busier than the least loaded server a prefix's server may be and still take the prefix's next request:
   * a quarter of its window (at least one request), so the preferred server runs near full before others help.
   */
  static int slack(Endpoint e) {
    return Math.max(1, e.window / 4);
  }

  /** @param prefixHash the hash of the request's first prompt tokens, or {@link #NO_PREFIX} */
  Endpoint route(String[] gpus, long prefixHash) {
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
    List<Endpoint> all = servers();
    Endpoint least = leastLoaded(all);
    if (pinned == null && prefixHash != NO_PREFIX && all.size() > 1) {
      Endpoint preferred = all.get(Math.floorMod(prefixHash, all.size()));
      if (preferred.load() < preferred.window && preferred.load() <= least.load() + slack(preferred)) {
        return preferred;
      }
    }
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
