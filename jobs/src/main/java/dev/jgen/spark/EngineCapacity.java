package dev.jgen.spark;

import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.job.JobEngineProvider;

/**
 * The driver's estimate of how many requests one executor's engine takes at once, read from the engine settings
 * before any engine exists: chunk sizes derive from it, so a GPU cluster gets chunks that keep its servers full and a
 * laptop gets small ones, without tuning. Each engine's provider makes the estimate ({@link JobEngineProvider#capacity}).
 */
final class EngineCapacity {
  /** A dry run (rendering and tokenizing only): rows cost microseconds, commits seconds. */
  static final int DRY_RUN = 8192;

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
    if (spec == null) {
      return DRY_RUN;
    }
    return JobEngineProvider.find(spec.kind()).orElseThrow(() -> new IllegalArgumentException(
        "no engine of kind '" + spec.kind() + "' on the class path")).capacity(spec);
  }
}
