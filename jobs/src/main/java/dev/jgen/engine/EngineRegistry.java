package dev.jgen.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The engines loaded in this JVM: one per {@link EngineSpec}, opened by the first task that needs it, reused by every
 * later task and partition of the executor, and closed at JVM exit (llama.cpp's native thread would otherwise keep
 * the JVM alive, and a DJL Serving process would outlive its executor).
 *
 * <p>Loads of different specs do not wait for each other (a lock per spec; every engine bounds its own load). A load
 * that fails is remembered: later calls for the same spec fail at once with the same message instead of loading
 * (launching a server, waiting for it) again on every task, until {@link #forgetFailedLoads()} (a new command) or
 * {@link #closeAll()}. An engine that is lost (its process died) is {@linkplain #discard discarded}, so the next call
 * loads a new one.
 */
public final class EngineRegistry {
  private static final Map<EngineSpec, Engine> LOADED = new ConcurrentHashMap<>();
  private static final Map<EngineSpec, Object> LOCKS = new ConcurrentHashMap<>();
  private static final Map<EngineSpec, RuntimeException> FAILED = new ConcurrentHashMap<>();
  private static final AtomicInteger LOADS = new AtomicInteger();
  private static volatile boolean shuttingDown;

  static {
    try {
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        shuttingDown = true;
        closeAll();
      }, "jgen-engine-close"));
    } catch (IllegalStateException e) {
      // First used while the JVM is already shutting down: nothing can be loaded any more, so nothing to close.
      shuttingDown = true;
    }
  }

  private EngineRegistry() {}

  public static Engine shared(EngineSpec spec) {
    return shared(spec, e -> { });
  }

  /** As {@link #shared(EngineSpec)}; {@code onLoad} runs only in the call that actually loaded the engine. */
  public static Engine shared(EngineSpec spec, java.util.function.Consumer<EngineInfo> onLoad) {
    Engine engine = LOADED.get(spec);
    if (engine != null && engine.isAlive()) {
      return engine;
    }
    synchronized (LOCKS.computeIfAbsent(spec, k -> new Object())) {
      engine = LOADED.get(spec);
      if (engine != null) {
        if (engine.isAlive()) {
          return engine;
        }
        discard(engine);
      }
      RuntimeException failed = FAILED.get(spec);
      if (failed != null) {
        throw new EngineException("the engine failed to load earlier in this JVM and is not loaded again: " + failed.getMessage(),
            failed);
      }
      if (shuttingDown) {
        throw new EngineException("the JVM is shutting down: no engine is loaded any more");
      }
      try {
        engine = provider(spec.kind()).open(spec);
      } catch (RuntimeException e) {
        FAILED.put(spec, e);
        throw e;
      }
      LOADS.incrementAndGet();
      LOADED.put(spec, engine);
    }
    if (shuttingDown) {
      // Loaded while the shutdown hook closed the others: closed here, never left running.
      discard(engine);
      throw new EngineException("the JVM is shutting down: no engine is loaded any more");
    }
    onLoad.accept(engine.info());
    return engine;
  }

  /** Engines loaded by this JVM so far. */
  public static int loads() {
    return LOADS.get();
  }

  /**
   * Takes a lost engine out of the registry and closes it (its processes killed); the next call for its spec loads a
   * new one. Safe to call from any thread, more than once.
   */
  public static void discard(Engine engine) {
    for (Map.Entry<EngineSpec, Engine> e : LOADED.entrySet()) {
      if (e.getValue() == engine) {
        LOADED.remove(e.getKey(), engine);
      }
    }
    try {
      engine.close();
    } catch (RuntimeException ignored) {
      // already gone
    }
  }

  /** Forgets the loads that failed, so the next call tries again (a new command: the cause may be fixed). */
  public static void forgetFailedLoads() {
    FAILED.clear();
  }

  public static EngineProvider provider(String kind) {
    for (EngineProvider p : providers()) {
      if (p.kind().equals(kind)) {
        return p;
      }
    }
    throw new IllegalArgumentException("no engine of kind '" + kind + "' on the class path");
  }

  /** Every provider on the class path ({@link ServiceLoader}), in the order of its service files. */
  public static List<EngineProvider> providers() {
    List<EngineProvider> all = new ArrayList<>();
    ServiceLoader.load(EngineProvider.class, EngineRegistry.class.getClassLoader()).forEach(all::add);
    return all;
  }

  /**
   * Closes every engine of this JVM (tests and notebooks call it; executors rely on the shutdown hook). A load in
   * progress is waited for (its spec's lock) and its engine closed with the others.
   */
  public static void closeAll() {
    for (Map.Entry<EngineSpec, Object> l : LOCKS.entrySet()) {
      synchronized (l.getValue()) {
        Engine e = LOADED.remove(l.getKey());
        FAILED.remove(l.getKey());
        if (e != null) {
          try {
            e.close();
          } catch (RuntimeException ignored) {
            // closing at exit: nothing left to report to
          }
        }
      }
    }
  }
}
