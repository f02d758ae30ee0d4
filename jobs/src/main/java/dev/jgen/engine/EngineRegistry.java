package dev.jgen.engine;

import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The engines loaded in this JVM: one per {@link EngineSpec}, opened by the first task that needs it, reused by every
 * later task and partition of the executor, and closed at JVM exit (llama.cpp's native thread would otherwise keep
 * the JVM alive, and a DJL Serving process would outlive its executor).
 */
public final class EngineRegistry {
  private static final Map<EngineSpec, Engine> LOADED = new ConcurrentHashMap<>();
  private static final AtomicInteger LOADS = new AtomicInteger();

  static {
    try {
      Runtime.getRuntime().addShutdownHook(new Thread(EngineRegistry::closeAll, "jgen-engine-close"));
    } catch (IllegalStateException e) {
      // First used while the JVM is already shutting down: nothing can be loaded any more, so nothing to close.
    }
  }

  private EngineRegistry() {}

  public static Engine shared(EngineSpec spec) {
    return shared(spec, e -> { });
  }

  /** As {@link #shared(EngineSpec)}; {@code onLoad} runs only in the call that actually loaded the engine. */
  public static Engine shared(EngineSpec spec, java.util.function.Consumer<EngineInfo> onLoad) {
    Engine engine;
    // One lock for opening and closing: an engine opened while closeAll runs is either closed with the others or
    // opened after them, never dropped unclosed, and no task is handed an engine being closed.
    synchronized (EngineRegistry.class) {
      engine = LOADED.get(spec);
      if (engine != null) {
        return engine;
      }
      engine = provider(spec.kind()).open(spec);
      LOADS.incrementAndGet();
      LOADED.put(spec, engine);
    }
    onLoad.accept(engine.info());
    return engine;
  }

  /** Engines loaded by this JVM so far. */
  public static int loads() {
    return LOADS.get();
  }

  public static EngineProvider provider(String kind) {
    for (EngineProvider p : ServiceLoader.load(EngineProvider.class, EngineRegistry.class.getClassLoader())) {
      if (p.kind().equals(kind)) {
        return p;
      }
    }
    throw new IllegalArgumentException("no engine of kind '" + kind + "' on the class path");
  }

  /** Closes every engine of this JVM (tests and notebooks call it; executors rely on the shutdown hook). */
  public static synchronized void closeAll() {
    for (Engine e : LOADED.values()) {
      try {
        e.close();
      } catch (RuntimeException ignored) {
        // closing at exit: nothing left to report to
      }
    }
    LOADED.clear();
  }
}
