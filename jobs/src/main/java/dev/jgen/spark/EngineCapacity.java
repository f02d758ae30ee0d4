package dev.jgen.spark;

import dev.jgen.engine.EngineSpec;

/**
 * The driver's estimate of how many requests one executor's engine takes at once, read from the engine settings
 * before any engine exists: chunk sizes derive from it, so a GPU cluster gets chunks that keep its servers full and a
 * laptop gets small ones, without tuning.
 */
final class EngineCapacity {
  private EngineCapacity() {}

  /** job.chunk_rows when not set: 16 windows' worth, so a chunk's drain is short beside its generation; at least 512. */
  static long defaultChunkRows(EngineSpec spec) {
    return Math.max(512, 16L * estimate(spec));
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
