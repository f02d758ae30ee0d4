package dev.jgen.testing.djl;

import dev.jgen.engine.EngineRegistry;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Benchmark (not a test): the whole generate job (local Spark, Delta) against the DJL Serving stand-in with a fixed
 * step time and variable output lengths, over many partitions. Prints the stand-in's busy fraction: slot-steps that
 * emitted a token over slot-steps available, from the first request to the last answer (start and tail included).
 *
 * <p>Arguments (all optional): rows (384), partitions (12), batch (8), step ms (20), min and max new tokens (16, 96).
 */
public final class ServingBench {
  private ServingBench() {}

  /** One run's figures. */
  public record Result(int rows, int partitions, int batch, int stepMs, double jobSeconds, double busyFraction,
      double fullFraction, double avgInFlight, int maxInFlight) {}

  public static void main(String[] args) throws Exception {
    try {
      Result r = run(arg(args, 0, 384), arg(args, 1, 12), arg(args, 2, 8), arg(args, 3, 20), arg(args, 4, 16), arg(args, 5, 96));
      System.out.printf("ServingBench rows=%d partitions=%d batch=%d step=%dms job=%.1fs%n", r.rows(), r.partitions(), r.batch(),
          r.stepMs(), r.jobSeconds());
      System.out.printf("busy fraction (slot-steps used / available, whole run): %.4f%n", r.busyFraction());
      System.out.printf("steps with the batch's worth in flight: %.1f%%%n", 100 * r.fullFraction());
    } finally {
      EngineRegistry.closeAll();
    }
    System.exit(0);
  }

  /** The whole generate job against the stand-in; fails if the job does. */
  public static Result run(int rows, int partitions, int batch, int stepMs, int minNew, int maxNew) throws Exception {
    Path dir = Files.createTempDirectory("jgen-serving-bench-");
    Random r = new Random(7);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      lines.add("{\"id\": \"b" + i + "\", \"prompt\": \"ベンチマーク用の質問 " + i + " に答えてください。\", \"max_new_tokens\": "
          + (minNew + r.nextInt(maxNew - minNew + 1)) + "}");
    }
    Path in = TestFiles.jsonl(dir, "bench.jsonl", lines);
    DjlServingStandIn.Options o = new DjlServingStandIn.Options();
    o.batch = batch;
    o.stepMillis = stepMs;
    o.llamaParallel = 4;
    try (DjlServingStandIn s = DjlServingStandIn.start(o)) {
      long t0 = System.nanoTime();
      Cli c = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
          "--set", "input.path=" + in, "--set", "output.path=" + dir.resolve("out"), "--set", "engine.kind=djl-serving",
          "--set", "engine.djl.endpoints=" + s.url(), "--set", "engine.djl.max_rolling_batch_size=" + batch,
          "--set", "generation.temperature=0.8", "--set", "job.partitions=" + partitions,
          "--set", "job.chunk_rows=100000", "--set", "generation.max_new_tokens=" + maxNew);
      double seconds = (System.nanoTime() - t0) / 1e9;
      if (c.code() != 0) {
        throw new IllegalStateException("serving bench job failed: " + c.err() + c.out());
      }
      DjlServingStandIn.Metrics m = s.metrics();
      return new Result(rows, partitions, batch, stepMs, seconds, m.busyFraction(), m.fullFraction(), m.avgInFlight(), m.maxInFlight());
    }
  }

  /** One server's figures in a cluster run. */
  /**
   * @param busyBeforeDrain slots busy (min(in flight, batch) per step) over the steps up to the arrival of the server's
   *     last request; what follows is the end of the input's drain, which no feeding can fill (every request left runs to
   *     its own length while the slots of the shorter ones empty)
   * @param drainSteps steps from the last request's arrival to the last answer
   */
  public record ServerFigures(double busyFraction, long slotStepsUsed, long slotStepsAvailable, double avgInFlight,
      int maxInFlight, long completed, double busyBeforeDrain, long drainSteps, List<Integer> busyPercentPer100Steps) {}

  /** Slots busy (min(in flight, batch)) in percent of the batch, per 100 steps of the trace: where a run lost time. */
  static List<Integer> busyPercentPer100Steps(List<Integer> trace, int batch) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < trace.size(); i += 100) {
      long busy = 0;
      int n = 0;
      for (int j = i; j < Math.min(trace.size(), i + 100); j++) {
        busy += Math.min(trace.get(j), batch);
        n++;
      }
      out.add((int) Math.round(100.0 * busy / ((double) batch * n)));
    }
    return out;
  }

  /**
   * A GPU-cluster-shaped run's figures.
   *
   * @param zeroLatencyReference the busy fraction of a feeder with no latency at all on the same rows: every slot of every
   *     server takes the next row (input order) the step it frees, counted the same way (per server, first request to
   *     last answer). What it loses is the end of the input, which feeding that does not know the output lengths
   *     cannot fill; a reference, not a bound (rows in another order end differently: jgen's default, largest
   *     max_new_tokens first over a read-ahead, lands above it when the budgets are the lengths, as here)
   */
  public record ClusterResult(int rows, int servers, int batch, int stepMs, int minNew, int maxNew, double jobSeconds,
      double busyFraction, double zeroLatencyReference, List<ServerFigures> perServer, String settings) {}

  /** {@link ClusterResult#zeroLatencyReference}: list scheduling of the lengths in order onto the earliest free slot. */
  static double zeroLatencyReference(int[] lengths, int servers, int batch) {
    java.util.PriorityQueue<long[]> free = new java.util.PriorityQueue<>(
        (a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
    for (int s = 0; s < servers; s++) {
      for (int i = 0; i < batch; i++) {
        free.add(new long[] {0, s});
      }
    }
    long[] used = new long[servers];
    long[] end = new long[servers];
    for (int length : lengths) {
      long[] slot = free.poll();
      int s = (int) slot[1];
      used[s] += length;
      end[s] = Math.max(end[s], slot[0] + length);
      free.add(new long[] {slot[0] + length, s});
    }
    long u = 0;
    long available = 0;
    for (int s = 0; s < servers; s++) {
      u += used[s];
      available += (long) batch * end[s];
    }
    return available == 0 ? 0 : (double) u / available;
  }

  /**
   * What a GPU cluster sees: {@code servers} independent stand-ins of {@code batch} continuous-batching slots each,
   * {@code stepMs} per generated token, output lengths spread uniformly over minNew..maxNew tokens, and the generate
   * job with its DEFAULT job settings (chunking, partitions, windows, commits: nothing tuned), endpoint mode with one
   * URL per server. The stand-ins generate no text (synthetic mode): the tiny model could not keep up with hundreds of
   * slots at 1 ms per token, and what is measured is the feeding. Busy fraction per server: slot-steps that emitted a
   * token over slot-steps available, counted by the server from its first request to its last answer; overall: the
   * sums over all servers.
   */
  public static ClusterResult runCluster(int rows, int servers, int batch, int stepMs, int minNew, int maxNew, List<String> sets)
      throws Exception {
    Path dir = Files.createTempDirectory("jgen-serving-cluster-bench-");
    Random r = new Random(11);
    List<String> lines = new ArrayList<>();
    int[] lengths = new int[rows];
    for (int i = 0; i < rows; i++) {
      lengths[i] = minNew + r.nextInt(maxNew - minNew + 1);
      lines.add("{\"id\": \"c" + i + "\", \"prompt\": \"ベンチマーク用の質問 " + i + " に答えてください。\", \"max_new_tokens\": "
          + lengths[i] + "}");
    }
    Path in = TestFiles.jsonl(dir, "bench.jsonl", lines);
    List<DjlServingStandIn> standIns = new ArrayList<>();
    try {
      StringBuilder urls = new StringBuilder();
      for (int i = 0; i < servers; i++) {
        DjlServingStandIn.Options o = new DjlServingStandIn.Options();
        o.batch = batch;
        o.stepMillis = stepMs;
        o.synthetic = true;
        o.jobQueueSize = 100_000;
        o.seed = 100 + i;
        DjlServingStandIn s = DjlServingStandIn.start(o);
        standIns.add(s);
        urls.append(i == 0 ? "" : ",").append(s.url());
      }
      if (!dev.jgen.testing.TestSpark.started()) {
        // The session `jgen generate` builds for itself (SparkSessions: local[cores + 1], its local-mode settings), not
        // the tests' local[2]: the command runs in this JVM, and Cli shares the JVM's session with it.
        dev.jgen.testing.TestSpark.use(dev.jgen.spark.SparkSessions.create(dev.jgen.config.ConfigLoader.load(
            TestFiles.conf().resolve("jobs/demo.yaml"), List.of())));
      }
      String master = dev.jgen.testing.TestSpark.get().sparkContext().master();
      String settings = "Spark " + master + (master.equals("local[2]") ? " (the tests' session: another scenario made it first)" : "")
          + "; engine.kind=djl-serving engine.djl.endpoints=<" + servers + " URLs> engine.djl.max_rolling_batch_size="
          + batch + " generation.max_new_tokens=" + maxNew + " (per-row max_new_tokens); job.* at their defaults" + (sets.isEmpty() ? "" : " except " + String.join(" ", sets));
      long t0 = System.nanoTime();
      List<String> args = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
          "--set", "input.path=" + in, "--set", "output.path=" + dir.resolve("out"), "--set", "engine.kind=djl-serving",
          "--set", "engine.djl.endpoints=" + urls, "--set", "engine.djl.max_rolling_batch_size=" + batch,
          "--set", "generation.temperature=0.8", "--set", "generation.max_new_tokens=" + maxNew));
      for (String set : sets) {
        args.add("--set");
        args.add(set);
      }
      Cli c = Cli.run(args.toArray(String[]::new));
      double seconds = (System.nanoTime() - t0) / 1e9;
      if (c.code() != 0) {
        throw new IllegalStateException("serving cluster bench job failed: " + c.err() + c.out());
      }
      List<ServerFigures> per = new ArrayList<>();
      long used = 0;
      long available = 0;
      for (DjlServingStandIn s : standIns) {
        DjlServingStandIn.Metrics m = s.metrics();
        List<Integer> trace = s.inFlightTrace();
        long last = Math.min(s.lastArrivalStep(), trace.size());
        long busy = 0;
        for (int i = 0; i < last; i++) {
          busy += Math.min(trace.get(i), batch);
        }
        per.add(new ServerFigures(m.busyFraction(), m.slotStepsUsed(), m.slotStepsAvailable(), m.avgInFlight(), m.maxInFlight(),
            m.completed(), last == 0 ? 0 : (double) busy / ((double) batch * last), trace.size() - last,
            busyPercentPer100Steps(trace, batch)));
        used += m.slotStepsUsed();
        available += m.slotStepsAvailable();
      }
      return new ClusterResult(rows, servers, batch, stepMs, minNew, maxNew, seconds, available == 0 ? 0 : (double) used / available,
          zeroLatencyReference(lengths, servers, batch), per, settings);
    } finally {
      for (DjlServingStandIn s : standIns) {
        s.close();
      }
    }
  }

  private static int arg(String[] args, int i, int dflt) {
    return args.length > i ? Integer.parseInt(args[i]) : dflt;
  }
}
