package dev.jgen.engine.llamanative;

/**
 * Threads and sequences when the job leaves them at 0 (engine.threads, engine.parallel): chosen from the executor's
 * cores and the model's size. The measurements behind the numbers are in docs/nativecpu.md.
 */
public final class MachineDefaults {
  private MachineDefaults() {}

  /**
   * Every core. The server's OpenMP workers spin only briefly once a step is done (OpenMP's default wait policy) and
   * the JVM side only waits for reply lines, so Spark's threads find a core between steps instead of one being kept
   * idle for them.
   */
  public static int threads(int cores) {
    return Math.max(1, cores);
  }

  /**
   * Sequences decoded together. CPU decode reads every weight once per step whatever the batch, so more sequences
   * add tokens nearly for free until the matrix work catches up with the memory traffic; that point grows with the
   * cores doing the work, not with the model's size. Measured on 2 cores (llm-jp-3-1.8b's shape, Q4_0, 2026-11-30,
   * README "Benchmarks"): llama-batched-bench still gains from 8 to 16 sequences (54.8 to 67.7 tok/s), so 8 per core,
   * at most 16 (where the measurement stops). Large models (over 8 GB of weights) get half: their KV cache per token is
   * larger and a step is long, so a row waits longer for its turn.
   */
  public static int parallel(int cores, long modelBytes) {
    int p = Math.max(4, Math.min(16, 8 * cores));
    if (modelBytes > 8L << 30) {
      p = Math.max(2, p / 2);
    }
    return p;
  }
}
