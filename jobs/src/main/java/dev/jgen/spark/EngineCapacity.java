package dev.jgen.spark;

import dev.jgen.engine.EngineSpec;

/**
 * The driver's estimate of how many requests one executor's engine takes at once, read from the engine settings
 * before any engine exists: chunk sizes derive from it, so a GPU cluster gets chunks that keep its servers full and a
 * laptop gets small ones, without tuning.
 */
final class EngineCapacity {
  private EngineCapacity() {}

  /**
   * job.chunk_rows when not set: 64 windows' worth, at least 512. Each chunk costs a Delta commit and, before the next
   * write, a replay of the table's state (seconds on busy cores); with 16 windows two 128-slot servers at 1 ms per token
   * met a chunk boundary every few seconds and drained at some of them. On GPU speeds job.commit_interval_s (60 s)
   * ends a chunk long before this many rows.
   */
  static long defaultChunkRows(EngineSpec spec) {
    return Math.max(512, 64L * estimate(spec));
  }

  static int estimate(EngineSpec spec) {
    if (spec == null || spec.kind().equals("echo")) {
      // A dry run (rendering and tokenizing only) or the zero-cost engine: rows cost microseconds, commits seconds.
      return 8192;
    }
    int window = spec.intOption("window", 0);
    if (window <= 0) {
      window = spec.intOption("max_rolling_batch_size", spec.intOption("max_batch_size", 0));
    }
    if (window <= 0) {
      // the embedded engine: its parallel sequences
      return Math.max(1, spec.intOption("parallel", 8));
    }
    String endpoints = spec.option("endpoints", "");
    int servers = 0;
    for (String e : endpoints.split(",")) {
      if (!e.isBlank()) {
        servers++;
      }
    }
    return window * Math.max(1, servers);
  }
}
