package dev.jgen.spark;

import dev.jgen.engine.EngineSpec;
import dev.jgen.generate.RunFailedException;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.IntConsumer;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.RDDInfo;
import org.apache.spark.util.CollectionAccumulator;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The run engine every job kind shares: generates a run's pending items as a stream of chunks, several in flight at
 * once ({@code job.chunks_in_flight}). The next chunk starts the moment a chunk stops starting items, while that one
 * still drains its generations in flight and commits: the only drain of the whole run is the end of its input. Each
 * chunk is one Spark job that generates and appends to the Delta table with its own idempotent transaction id (chunks
 * may commit in any order, and a replay of a committed chunk is a no-op). A chunk holds at most {@code job.chunk_rows} items and its tasks start no
 * new item after {@code job.commit_interval_s} ({@link ChunkTask}); items they left are planned again as a chunk of
 * their own, so a commit happens at least that often whatever the engine's speed. Chunk sizes follow the rate seen so
 * far, so a chunk commits within the interval without being cut.
 *
 * <p>What a planner supplies: the pending items (persisted), their positions, what a chunk's tasks do with them
 * ({@link Tasks}), and how a chunk's rows are committed ({@link Committer}). Locks, failures and progress are this
 * class's: a lost lock or a failed chunk cancels the others before they commit, and a run error found in a failed
 * chunk is rethrown as such.
 *
 * @param <T> an item: an input row (generate), a conversation (MT-Bench, self-chat)
 */
public final class ChunkedRun<T> {
  /** What one chunk's tasks do with their items: generate, and emit output rows as they complete. */
  public interface Tasks<T> extends java.io.Serializable {
    FlatMapFunction<Iterator<T>, Row> forChunk(ChunkTask.Accounting accounting);
  }

  /** Commits one chunk's rows (an idempotent Delta append keyed by the chunk number). */
  public interface Committer {
    void commit(Dataset<Row> rows, int chunk);

    /** After a commit that more chunks follow: starts, without waiting, what the next chunk's write will need. */
    default void prepareNext() {}

    static Committer of(Committer commit, Runnable prepareNext) {
      return new Committer() {
        @Override
        public void commit(Dataset<Row> rows, int chunk) {
          commit.commit(rows, chunk);
        }

        @Override
        public void prepareNext() {
          prepareNext.run();
        }
      };
    }
  }

  /**
   * @param inFlight chunks generated at once
   * @param tasks Spark tasks per chunk
   * @param maxRows items per chunk at most
   * @param taskMillis how long a task starts new items (0: no limit)
   * @param group the Spark job group of the attempt (cancelled together)
   * @param engine the engine spec, for the GPU stage's resource profile (null: a dry run)
   */
  public record Settings(int inFlight, int tasks, long maxRows, long taskMillis, String group, EngineSpec engine,
      RunStop.Limits stop, String label) {
    /**
     * From the job's keys: {@code job.chunks_in_flight}, {@code job.partitions} (default: Spark's parallelism but one
     * slot, shared by the chunks in flight), {@code job.commit_interval_s}; {@code maxRows} as the kind decides its
     * default.
     */
    /** @param label names the chunks' Spark jobs in the UI: the kind, run and attempt ("generate run r1 attempt 2") */
    public static Settings of(dev.jgen.config.JobConfig config, SparkSession spark, long maxRows, String group, EngineSpec engine,
        RunStop.Limits stop, String label) {
      int inFlight = config.integer(dev.jgen.config.ConfigKeys.CHUNKS_IN_FLIGHT);
      int partitions = config.integer(dev.jgen.config.ConfigKeys.PARTITIONS);
      // One slot is left free for Delta's jobs before each chunk's write (see SparkSessions): the chunks in flight
      // hold theirs for as long as they generate.
      int tasks = partitions > 0 ? partitions : Math.max(1, (spark.sparkContext().defaultParallelism() - 1) / inFlight);
      return new Settings(inFlight, tasks, maxRows, config.integer(dev.jgen.config.ConfigKeys.COMMIT_INTERVAL_S) * 1000L, group,
          engine, stop, label);
    }
  }

  private final SparkSession spark;
  private final JavaRDD<T> pending;
  private final ChunkTask.Position<T> position;
  private final long sliceRows;
  private final StructType schema;
  private final Tasks<T> tasks;
  private final Committer committer;
  private final Settings settings;
  private final Runnable lockCheck;
  private final IntConsumer onCommit;
  private final long[][] slices;
  private final ArrayDeque<Chunk<T>> leftovers = new ArrayDeque<>();
  private int cursor;
  private int chunkNumber;
  /** Names the chunks' generation RDDs, unique to this run object (several runs may share a SparkContext). */
  private final String rddPrefix = "jgen-generation-" + java.util.UUID.randomUUID() + "-chunk-";
  private int committed;
  private long committedRows;
  private final long pendingItems;

  /**
   * @param pending the items to generate, persisted by the caller
   * @param sliceRows positions per slice: chunks are whole slices
   * @param lockCheck throws when the run's lock is lost (called before each chunk starts and after a failure)
   * @param onCommit called with the number of chunks committed so far
   */
  public ChunkedRun(SparkSession spark, JavaRDD<T> pending, ChunkTask.Position<T> position, long sliceRows, StructType schema,
      Tasks<T> tasks, Committer committer, Settings settings, Runnable lockCheck, IntConsumer onCommit) {
    this.spark = spark;
    this.pending = pending;
    this.position = position;
    this.sliceRows = Math.max(1, sliceRows);
    this.schema = schema;
    this.tasks = tasks;
    this.committer = committer;
    this.settings = settings;
    this.lockCheck = lockCheck;
    this.onCommit = onCommit;
    long per = this.sliceRows;
    ChunkTask.Position<T> pos = position;
    Map<Long, Long> counts = new TreeMap<>(pending.map(t -> pos.of(t) / per).countByValue());
    this.slices = new long[counts.size()][];
    int i = 0;
    long total = 0;
    for (Map.Entry<Long, Long> e : counts.entrySet()) {
      slices[i++] = new long[] {e.getKey(), e.getValue()};
      total += e.getValue();
    }
    this.pendingItems = total;
  }

  /** Items the run has to generate. */
  public long pendingItems() {
    return pendingItems;
  }

  /** Items of a chunk, and how many (-1: not known until counted), with their lowest and highest position. */
  private record Chunk<T>(JavaRDD<T> items, long size, long lo, long hi) {}

  /** One chunk's job, as it ended. */
  private record Done<T>(int number, Chunk<T> chunk, long planned, long written, List<Long> unstarted, Throwable failure) {}

  /**
   * Chunks submitted and not yet committed, at most: {@code inFlight} generating and as many draining or committing.
   * Chunk numbers follow submission, so none beyond the highest committed one plus this can exist (the fence's margin).
   */
  public static int maxUncommitted(int inFlight) {
    return 2 * Math.max(1, inFlight);
  }

  /**
   * Runs every chunk. A chunk's write job generates and writes its rows, then the driver commits them. The next chunk
   * starts when a chunk stops feeding the engine ({@link FeedingEnds}), not when it has drained and committed: its drain,
   * its commit and the next chunk's start overlap. At most {@code inFlight} chunks feed at once and as many more may be
   * draining or committing.
   */
  public void run() {
    ExecutorService pool = Executors.newFixedThreadPool(maxUncommitted(settings.inFlight()), r -> {
      Thread t = new Thread(r, "jgen-chunk");
      t.setDaemon(true);
      return t;
    });
    BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    FeedingEnds feedingEnds = new FeedingEnds(rddPrefix, events);
    spark.sparkContext().addSparkListener(feedingEnds);
    Set<Integer> feeding = new HashSet<>();
    long start = System.nanoTime();
    int running = 0;
    Throwable failure = null;
    Runnable releaseLocalLock = ChunkTask.guard(settings.group(), lockCheck);
    try {
      while (true) {
        while (failure == null && feeding.size() < settings.inFlight() && running < maxUncommitted(settings.inFlight())
            && (cursor < slices.length || !leftovers.isEmpty()) && admitting()) {
          lockCheck.run();
          int number = chunkNumber++;
          feeding.add(number);
          submit(pool, events, feedingEnds, number, nextChunk(running, start));
          running++;
        }
        if (running == 0) {
          break;
        }
        Object event = events.take();
        if (event instanceof StoppedFeeding f) {
          feeding.remove(f.chunk());
          continue;
        }
        @SuppressWarnings("unchecked")
        Done<T> d = (Done<T>) event;
        feeding.remove(d.number());
        running--;
        if (d.failure() != null) {
          if (failure == null) {
            failure = d.failure();
            // Stop the other chunks before they commit: what is committed stays, the rest is the resume's.
            spark.sparkContext().cancelJobGroup(settings.group());
          }
          continue;
        }
        committed++;
        committedRows += d.written();
        onCommit.accept(committed);
        if (failure == null && (cursor < slices.length || !leftovers.isEmpty() || !d.unstarted().isEmpty())) {
          committer.prepareNext();
        }
        if (!d.unstarted().isEmpty() && failure == null && admitting()) {
          // The chunk's tasks reached their time limit: the items they did not start are planned again, first.
          Set<Long> left = new HashSet<>(d.unstarted());
          ChunkTask.Position<T> pos = position;
          leftovers.addFirst(new Chunk<>(d.chunk().items().filter(t -> left.contains(pos.of(t))), left.size(),
              java.util.Collections.min(left), java.util.Collections.max(left)));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      spark.sparkContext().cancelJobGroup(settings.group());
      throw new IllegalStateException("interrupted while generating", e);
    } finally {
      spark.sparkContext().removeSparkListener(feedingEnds);
      pool.shutdownNow();
      releaseLocalLock.run();
    }
    if (failure != null) {
      lockCheck.run();
      RunFailedException runError = RunFailedException.findIn(failure);
      if (runError != null) {
        throw runError;
      }
      if (failure instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(failure);
    }
  }

  /** Whether a new chunk may start: the attempt's budget and deadline not reached (as this JVM's meter knows them). */
  private boolean admitting() {
    return settings.stop() == null || !settings.stop().any() || RunStop.meter(settings.group(), settings.stop()).admitting();
  }

  /** Why the attempt stopped early ("budget", "deadline"), or null when it generated every pending item. */
  public String stoppedBy() {
    return settings.stop() == null || !settings.stop().any() ? null : RunStop.meter(settings.group(), settings.stop()).stoppedBy();
  }

  /** A chunk starts no new item: a task of it ran out of input (or time), or its write job ended. */
  private record StoppedFeeding(int chunk) {}

  /**
   * Tells the run loop when a chunk stops feeding the engine, so the next chunk starts while this one still drains its
   * generations in flight (at GPU speeds, a whole generation's length): the first executor heartbeat that carries a
   * task's {@code inputDone} (Spark reports running tasks' accumulator updates with each heartbeat; local mode beats
   * every second) or, failing that, the end of the chunk's write job (the job whose stages compute the chunk's
   * generation RDD, named {@code <prefix><chunk>}; Delta's own jobs do not).
   */
  private static final class FeedingEnds extends SparkListener {
    private final String prefix;
    private final BlockingQueue<Object> events;
    private final Map<Integer, Integer> chunkOfJob = new ConcurrentHashMap<>();
    private final Map<Long, Integer> chunkOfAccumulator = new ConcurrentHashMap<>();

    FeedingEnds(String prefix, BlockingQueue<Object> events) {
      this.prefix = prefix;
      this.events = events;
    }

    void watch(long inputDoneAccumulator, int chunk) {
      chunkOfAccumulator.put(inputDoneAccumulator, chunk);
    }

    @Override
    public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate update) {
      for (scala.Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> task
          : CollectionConverters.asJava(update.accumUpdates())) {
        for (AccumulableInfo info : CollectionConverters.asJava(task._4())) {
          Integer chunk = chunkOfAccumulator.get(info.id());
          if (chunk != null && info.update().isDefined() && ((Number) info.update().get()).longValue() > 0) {
            chunkOfAccumulator.remove(info.id());
            events.add(new StoppedFeeding(chunk));
          }
        }
      }
    }

    @Override
    public void onJobStart(SparkListenerJobStart jobStart) {
      for (StageInfo stage : CollectionConverters.asJava(jobStart.stageInfos())) {
        for (RDDInfo rdd : CollectionConverters.asJava(stage.rddInfos())) {
          String name = rdd.name();
          if (name != null && name.startsWith(prefix)) {
            chunkOfJob.put(jobStart.jobId(), Integer.parseInt(name.substring(prefix.length())));
            return;
          }
        }
      }
    }

    @Override
    public void onJobEnd(SparkListenerJobEnd jobEnd) {
      Integer chunk = chunkOfJob.remove(jobEnd.jobId());
      if (chunk != null) {
        events.add(new StoppedFeeding(chunk));
      }
    }
  }

  /** The next chunk: items a chunk left at its time limit first, then the next slices up to the chunk's size. */
  private Chunk<T> nextChunk(int running, long start) {
    if (!leftovers.isEmpty()) {
      return leftovers.pollFirst();
    }
    long maxRows = settings.maxRows();
    long target = maxRows;
    double seconds = (System.nanoTime() - start) / 1e9;
    if (committed > 0 && seconds > 0 && settings.taskMillis() > 0) {
      target = Math.max(Math.max(1, maxRows / 16), Math.min(maxRows, (long) (committedRows / seconds * settings.taskMillis() / 1000.0)));
    }
    if (committed == 0 && running == 0 && cursor == 0 && settings.inFlight() > 1) {
      // The first chunk is half size, so chunks end staggered: one always feeds the engine while another drains.
      target = Math.max(1, target / 2);
    }
    int from = cursor;
    long rows = 0;
    while (cursor < slices.length && (rows == 0 || rows + slices[cursor][1] <= target)) {
      rows += slices[cursor][1];
      cursor++;
    }
    long lo = slices[from][0];
    long hi = slices[cursor - 1][0];
    long per = sliceRows;
    ChunkTask.Position<T> pos = position;
    return new Chunk<>(pending.filter(t -> {
      long s = pos.of(t) / per;
      return s >= lo && s <= hi;
    }), rows, lo * per, (hi + 1) * per - 1);
  }

  /**
   * A chunk's items spread over its tasks: each task takes a contiguous range of positions, in position order. Rows of a
   * prefix group are neighbours in position (job.prefix_group_tokens), so a group reaches one task, and so one
   * executor's engine and its prefix cache, instead of being dealt over all of them; in input order it is the same as
   * before for the engine (every task a share of the chunk). Keyed by position, not {@code repartition}: its round
   * robin deals items by their order in each input partition, and that order can differ when Spark recomputes a
   * partition (an executor lost with its cached blocks, the items then read again through a shuffle). Spark marks such a
   * shuffle indeterminate and, when it has to re-run it after write tasks have finished, aborts the whole job ("cannot
   * rollback the ResultStage"). Keyed by position, a re-run sends every item to the same task, in the same order.
   *
   * @param lo the chunk's lowest position
   * @param hi the chunk's highest position
   */
  static <T> JavaRDD<T> spread(JavaRDD<T> items, int tasks, ChunkTask.Position<T> position, long lo, long hi) {
    return items.mapToPair(t -> new scala.Tuple2<>(position.of(t), t))
        .repartitionAndSortWithinPartitions(new PositionRanges(Math.max(1, tasks), lo, hi))
        .values();
  }

  /** Positions {@code lo..hi} cut into {@code tasks} contiguous ranges of equal width. */
  static final class PositionRanges extends org.apache.spark.Partitioner {
    private final int tasks;
    private final long lo;
    private final long width;

    PositionRanges(int tasks, long lo, long hi) {
      this.tasks = tasks;
      this.lo = lo;
      this.width = Math.max(1, hi - lo + 1);
    }

    @Override
    public int numPartitions() {
      return tasks;
    }

    @Override
    public int getPartition(Object key) {
      long offset = Math.max(0, Math.min(width - 1, (Long) key - lo));
      return (int) (offset * tasks / width);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof PositionRanges r && r.tasks == tasks && r.lo == lo && r.width == width;
    }

    @Override
    public int hashCode() {
      return java.util.Objects.hash(tasks, lo, width);
    }
  }

  private void submit(ExecutorService pool, BlockingQueue<Object> events, FeedingEnds feedingEnds, int number,
      Chunk<T> chunk) {
    var sc = spark.sparkContext();
    var written = sc.longAccumulator("jgen.chunk" + number + ".written");
    CollectionAccumulator<Long> unstarted = sc.collectionAccumulator("jgen.chunk" + number + ".unstarted");
    var inputDone = sc.longAccumulator("jgen.chunk" + number + ".input_done");
    feedingEnds.watch(inputDone.id(), number);
    FlatMapFunction<Iterator<T>, Row> generate = tasks.forChunk(
        new ChunkTask.Accounting(written, unstarted, inputDone, settings.taskMillis(), settings.group(), settings.stop()));
    pool.execute(() -> {
      Done<T> done;
      // Job groups are per thread: every chunk's jobs can be cancelled together when the run must stop.
      sc.setJobGroup(settings.group(), "jgen chunk " + number, true);
      try {
        long planned = chunk.size() >= 0 ? chunk.size() : chunk.items().count();
        // The chunk's Spark jobs, as the UI lists them: which kind, run, attempt and chunk, and how many rows.
        sc.setJobDescription("jgen " + (settings.label() == null ? settings.group() : settings.label()) + " chunk " + number
            + " (" + planned + " rows)");
        // Only the generation stage asks for GPUs (a stage-level resource profile on a cluster); reading, keying
        // and writing need none.
        JavaRDD<Row> rows = GpuStage.forGeneration(spread(chunk.items(), settings.tasks(), position, chunk.lo(), chunk.hi()), sc, settings.engine())
            .mapPartitions(generate);
        rows.setName(rddPrefix + number);
        committer.commit(spark.createDataFrame(rows, schema), number);
        done = new Done<>(number, chunk, planned, written.value(), List.copyOf(unstarted.value()), null);
      } catch (Exception | Error e) {
        // Spark's own exceptions are checked ones that Scala code throws undeclared (a failed job's SparkException):
        // every failure comes back as the chunk's outcome, where the run's cause is looked for.
        done = new Done<>(number, chunk, 0, 0, List.of(), e);
      }
      events.add(done);
    });
  }
}
