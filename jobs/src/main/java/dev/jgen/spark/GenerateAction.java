package dev.jgen.spark;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.floor;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sequence;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.JobConfig;
import dev.jgen.delta.RunTable;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.delta.OutputSchema;
import dev.jgen.delta.RunsTable;
import dev.jgen.generate.EngineMetrics;
import dev.jgen.generate.RunFailedException;
import dev.jgen.generate.RunHealth;
import dev.jgen.input.AttributeSweep;
import dev.jgen.input.InputDedup;
import dev.jgen.prompt.PromptSpec;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;

/**
 * Runs a generation job: read the input, number and check its rows, skip what the run already holds, and generate the
 * rest chunk by chunk, each chunk one idempotent Delta commit. Options, then {@link #execute()}; the run's claim,
 * fencing, resume and commits are {@link BaseRunAction}'s, as for every kind.
 */
public final class GenerateAction extends BaseRunAction<GenerateResult> {
  private Duration progressEvery = Duration.ofSeconds(5);
  /** Wall time of each phase, printed with the progress lines at the end (where a run's time goes). */
  private final Map<String, Long> phaseMillis = new LinkedHashMap<>();
  private long phaseStart;
  private long start;
  /** The input, read while the tables open and the runs table is read. */
  private java.util.concurrent.CompletableFuture<Dataset<Row>> reading;
  private Dataset<Row> input;
  /** This attempt's copies of earlier runs' rows (job.reuse); none until the attempt looks. */
  private RequestReuse.Reused reused = RequestReuse.NONE;
  /** The attempt's pending pairs as rendered requests, once asked for (reuse, prefix groups). */
  private Dataset<Row> requests;

  private void phase(String name) {
    long now = System.nanoTime();
    if (phaseStart != 0) {
      phaseMillis.merge(name, (now - phaseStart) / 1_000_000, Long::sum);
    }
    phaseStart = now;
  }

  private GenerateAction(SparkSession spark, GenerateJob job) {
    super(spark, job, OutputSchema.SPEC);
  }

  public static GenerateAction of(SparkSession spark, GenerateJob job) {
    return new GenerateAction(spark, job);
  }

  /** Where progress lines go (null: nowhere) and how often at most. */
  public GenerateAction progress(PrintStream out, Duration every) {
    this.progress = out;
    this.progressEvery = every;
    return this;
  }

  /** Regenerate the run's error rows too (as a new attempt); by default a resume skips every row already written. */
  public GenerateAction retryErrors(boolean retry) {
    this.retryErrors = retry;
    return this;
  }

  /**
   * Three things a small run waits seconds for in a fresh JVM (Delta's and Spark's first use) are done at once: reading
   * the input (JSON schema inference is a Spark job), opening or creating the output table, and on this thread the
   * runs table with the claim's read. None has a side effect on the run until the attempt's record is written, which
   * waits for the other two (a missing id column or a broken table is reported before any record exists).
   */
  @Override
  protected void prepare() {
    start = System.nanoTime();
    phaseStart = start;
    preloadEngine();
    reading = java.util.concurrent.CompletableFuture.supplyAsync(this::readInput);
  }

  @Override
  protected void beforeClaim(RunTable table) {
    String idColumn = job.config().string(ConfigKeys.INPUT_ID_COLUMN);
    Dataset<Row> in = joined(reading);
    if (!List.of(in.columns()).contains(idColumn)) {
      throw new ConfigException(ConfigKeys.INPUT_ID_COLUMN + ": column '" + idColumn + "' is not in the input (columns: "
          + String.join(", ", in.columns()) + ")");
    }
    input = in;
    phase("open tables, check the lock");
  }

  @Override
  protected void claimFailed() {
    if (reading != null) {
      reading.handle((r, x) -> null).join();
    }
  }

  @Override
  protected GenerateResult run(Attempt attempt) {
    phase("start attempt");
    JobConfig config = job.config();
    int n = config.integer(ConfigKeys.N);
    String idColumn = config.string(ConfigKeys.INPUT_ID_COLUMN);
    Generated g = generate(attempt, input, idColumn, n);
    if (config.bool(ConfigKeys.OPTIMIZE)) {
      attempt.table().optimizeRun(job.runId());
    }
    // A first attempt (or a replaced run) holds one row per (row, sample): no need for the latest-attempt window.
    GenerateResult r = summarize(attempt, g, n, start, !attempt.resuming() && reused.count() == 0);
    phase("summarize");
    if (progress != null) {
      progress.println("jgen: time by phase (ms): " + phaseMillis);
    }
    return r;
  }

  @Override
  protected Totals totals(GenerateResult r) {
    String metrics = null;
    if (!r.serverMetrics().isEmpty()) {
      try {
        metrics = "server metrics: " + new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(r.serverMetrics());
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        metrics = "server metrics: " + r.serverMetrics();
      }
    }
    return new Totals(r.rowsIn(), r.generatedNow(), r.ok(), r.error(), r.missingFromInput(), r.promptTokens(),
        r.completionTokens(), r.completionTokensPerSecond(), r.modelLoadMs(), r.generationSeconds(), r.seconds(), metrics,
        r.cachedTokens(), r.stoppedBy());
  }

  @Override
  protected void describeCommit(ObjectNode o) {
    // Structured output (issue 13): the job's constraint itself and its SHA-256 (each row carries constraint_sha256).
    if (job.generation().constraint() != null) {
      o.set("output_constraint", new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(job.generation().constraint().describe()));
    }
  }

  /** Model load time of an engine this driver preloaded (local mode), 0 when none. */
  private final java.util.concurrent.atomic.AtomicLong preloadMs = new java.util.concurrent.atomic.AtomicLong();

  /**
   * In local mode the driver is the executor: the engine starts loading now, on a daemon thread, while the input is
   * read and the tables open, instead of inside the first task (a 1 GB GGUF takes seconds; a small run feels every
   * one). A failed preload is remembered by the registry: the first task reports its error at once, as a run error,
   * without loading again.
   */
  private void preloadEngine() {
    if (job.engine() == null || !spark.sparkContext().isLocal()) {
      return;
    }
    Thread t = new Thread(() -> {
      try {
        EngineRegistry.shared(job.engine(), info -> preloadMs.set(info.loadMillis()));
      } catch (RuntimeException | Error e) {
        // the first task reports it
      }
    }, "jgen-engine-preload");
    t.setDaemon(true);
    t.start();
  }

  /** What one attempt did, with the tally of the rows it wrote (the run's totals when no earlier attempt wrote any). */
  private record Generated(long rowsIn, long pendingRows, long missingFromInput, long completionTokens, long loadMs, double seconds,
      Map<String, Map<String, Double>> serverMetrics, WrittenTally.Totals written) {}

  /** What this attempt generates: the input's (row, sample) pairs the run does not hold yet. */
  private Generated generate(Attempt a, Dataset<Row> input, String idColumn, int n) {
    JobConfig config = job.config();
    RunTable table = a.table();
    int attempt = a.number();
    // The run already has rows in the table (otherwise there is nothing to skip or to miss).
    boolean resuming = a.resuming();
    Map<String, List<Integer>> sweep = AttributeSweep.parse(config.map(ConfigKeys.ATTRIBUTES_SWEEP));
    // A sweep turns each prompt into its attribute variants (each a row with its own id and seed); dedup then marks
    // repeated instructions, in input order, so each variant of a repeat points at the same variant of the original.
    Dataset<Row> rows = withRowNumbers(sweep.isEmpty() ? input : AttributeSweep.expand(input, sweep, idColumn));
    if (config.bool(ConfigKeys.INPUT_DEDUP)) {
      rows = InputDedup.mark(rows, idColumn);
    }
    Dataset<Row> numbered = keyed(rows, idColumn).persist(StorageLevel.MEMORY_AND_DISK());
    JavaRDD<Row> pending = null;
    Broadcast<PromptSpec> prompts = null;
    try {
      // A first attempt generates every (row, sample), so the chunk plan's count (below) says how many rows came in:
      // one Spark job fewer for a small run. A resume skips some, and counts the input itself.
      long rowsIn = resuming ? numbered.count() : -1;
      phase("read and check input");
      Dataset<Row> samples = numbered.withColumn(InputColumns.SAMPLE, explode(sequence(lit(0), lit(n - 1))));
      long missing = 0;
      if (resuming) {
        Dataset<Row> latest = table.latest(job.runId());
        // Rows of the run that the input no longer has: reported, never silently forgotten.
        missing = latest.select(col("row_key")).distinct()
            .join(numbered.select(col(InputColumns.KEY).as("row_key")), "row_key", "left_anti").count();
        samples = samples.join(done(a),
            col(InputColumns.KEY).equalTo(col("_done_key")).and(col(InputColumns.SAMPLE).equalTo(col("_done_sample"))), "left_anti");
      }
      // Slices of a few rows, in input order, are the unit chunks are cut from: the driver sizes each chunk as the run
      // goes, and a resumed run commits the same rows together as far as they remain.
      long maxChunkRows = config.integer(ConfigKeys.CHUNK_ROWS) > 0 ? config.integer(ConfigKeys.CHUNK_ROWS)
          : EngineCapacity.defaultChunkRows(job.engine());
      InputColumns columns = new InputColumns(samples.schema(), idColumn);
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      prompts = jsc.broadcast(job.prompts());
      var sc = spark.sparkContext();
      var counters = new GeneratePartition.RunCounters(sc.longAccumulator("jgen.rows"), sc.longAccumulator("jgen.ok"),
          sc.longAccumulator("jgen.run_errors"), sc.longAccumulator("jgen.prompt_tokens"),
          sc.longAccumulator("jgen.completion_tokens"), sc.longAccumulator("jgen.model_load_ms"),
          sc.collectionAccumulator("jgen.server_metrics"), new WrittenTally());
      sc.register(counters.written(), "jgen.written");
      JobPlan plan = new JobPlan(job.runId(), attempt, job.model().modelId(), job.model().fingerprint(), job.engine(),
          job.generation(), columns,
          new RunHealth.Limits(config.number(ConfigKeys.MAX_FAILURE_RATE), config.integer(ConfigKeys.FAILURE_WINDOW),
              config.integer(ConfigKeys.ENGINE_REQUEST_TIMEOUT_S)), n,
          a.reseed(retryErrors), config.bool(ConfigKeys.LONGEST_FIRST));
      // The pending pairs as requests, rendered once when reuse or prefix grouping asks for them.
      int prefixTokens = config.integer(ConfigKeys.PREFIX_GROUP_TOKENS);
      // engine.group_by_adapter: with adapters configured, rows of one adapter become neighbours (and the prefix
      // groups, which include the adapter, with them); false keeps input order, and the prefix ignores the adapter.
      boolean byAdapter = config.bool(ConfigKeys.ENGINE_GROUP_BY_ADAPTER) && !plan.generation().adapters().isEmpty();
      Dataset<Row> beforeReuse = samples;
      JobPlan renderPlan = plan;
      Broadcast<PromptSpec> renderPrompts = prompts;
      java.util.function.Supplier<Dataset<Row>> rendered = () -> {
        if (requests == null) {
          requests = RenderedRequests.of(spark, beforeReuse, renderPlan, renderPrompts, prefixTokens,
              config.bool(ConfigKeys.ENGINE_GROUP_BY_ADAPTER))
              .persist(StorageLevel.MEMORY_AND_DISK());
        }
        return requests;
      };
      // job.reuse: what earlier runs of this table already answered is copied, committed, and not generated again.
      if (job.engine() != null && config.bool(ConfigKeys.REUSE)) {
        reused = RequestReuse.copyFromEarlierRuns(spark, table, rendered, plan, prompts, job.engine().kind(),
            rowsOut -> table.appendReused(rowsOut, job.runId(), attempt, commitMetadata(attempt, dev.jgen.delta.ChunkFence.REUSE_CHUNK)));
        if (reused.count() > 0) {
          samples = samples.join(reused.keys(),
              col(InputColumns.KEY).equalTo(col("_reused_key")).and(col(InputColumns.SAMPLE).equalTo(col("_reused_sample"))), "left_anti");
          if (rowsIn < 0) {
            rowsIn = numbered.count();
          }
          if (progress != null) {
            progress.printf(Locale.ROOT, "jgen: reused %d (row, sample) pairs from earlier runs' identical requests (job.reuse)%n",
                reused.count());
          }
        }
        phase("reuse earlier runs");
      }
      // job.prefix_group_tokens: rows sharing a prefix become neighbours (chunks, tasks, the engine's cache). In local
      // mode one engine serves every task, so only a run of more than one chunk gains from it: a small one skips the
      // rendering and the sort. Adapter groups matter in one chunk too: the engine's read-ahead admits rows in order,
      // and a step of mixed adapters is several decodes.
      if (job.engine() != null && (prefixTokens > 0 || byAdapter)) {
        boolean byPrefix = false;
        if (prefixTokens > 0) {
          if (rowsIn < 0 && spark.sparkContext().isLocal()) {
            rowsIn = numbered.count();
          }
          byPrefix = !spark.sparkContext().isLocal() || rowsIn * n > maxChunkRows;
        }
        if (byPrefix || byAdapter) {
          samples = PrefixGroups.ordered(spark, samples, rendered.get(), n, byPrefix, byAdapter);
          columns = new InputColumns(samples.schema(), idColumn);
          plan = plan.withColumns(columns);
          phase(byAdapter ? "group rows by adapter and prefix" : "group rows by prefix");
        }
      }
      pending = samples.javaRDD().persist(StorageLevel.MEMORY_AND_DISK());
      Broadcast<PromptSpec> spec = prompts;
      JobPlan finalPlan = plan;
      ChunkedRun<Row> run = new ChunkedRun<>(spark, pending, finalPlan::position,
          Math.max(1, Math.min(64, maxChunkRows / 8)), OutputSchema.SCHEMA,
          accounting -> new GeneratePartition(finalPlan, spec, counters, accounting),
          committer(a), chunkSettings(a, maxChunkRows), a.lock()::checkLock, done -> {
            observeSpending(a, counters.promptTokens().value(), counters.completionTokens().value());
            line(done);
          });
      long pendingRows = run.pendingItems();
      if (rowsIn < 0) { // a first attempt that reused nothing: every pair is pending
        rowsIn = pendingRows / n;
      }
      phase("plan chunks");
      long genStart = System.nanoTime();
      try (ProgressLine line = new ProgressLine(progress, progressEvery, counters, pendingRows, rowsIn * n - pendingRows - reused.count(),
          () -> budgetWords(a))) {
        this.line = line;
        run.run();
      }
      phase("generate and commit");
      // The latest reading of each engine instance (readings are cumulative).
      Map<String, Map<String, Double>> serverMetrics = new java.util.TreeMap<>();
      for (EngineMetrics m : counters.serverMetrics().value()) {
        serverMetrics.put(m.instance(), m.values());
      }
      return new Generated(rowsIn, pendingRows, missing, counters.completionTokens().value(),
          counters.modelLoadMs().value() + preloadMs.get(), (System.nanoTime() - genStart) / 1e9, serverMetrics,
          counters.written().value());
    } finally {
      if (pending != null) {
        pending.unpersist(false);
      }
      if (reused.rows() != null) {
        reused.rows().unpersist(false);
      }
      if (requests != null) {
        requests.unpersist(false);
        requests = null;
      }
      numbered.unpersist();
      if (prompts != null) {
        prompts.destroy();
      }
    }
  }


  private ProgressLine line;

  private void line(int chunksCommitted) {
    if (line != null) {
      line.chunkCommitted(chunksCommitted);
    }
  }

  /**
   * The run's totals. When the run's rows are all this attempt's (a first attempt, or a replaced run), they are what
   * this attempt wrote, tallied as it wrote them; otherwise the table is read for each (row, sample)'s latest attempt.
   */
  private GenerateResult summarize(Attempt attempt, Generated g, int n, long start, boolean onlyAttempt) {
    RunTable table = attempt.table();
    WrittenTally.Totals t = onlyAttempt ? g.written() : latestTotals(table);
    long left = g.rowsIn() * n - t.ok() - t.error() - t.skipped();
    return new GenerateResult(job.runId(), attempt.number(), g.rowsIn(), n, t.ok(), t.error(), t.skipped(), g.pendingRows(),
        g.missingFromInput(), table.path(), t.promptTokens(), t.completionTokens(), g.completionTokens(), g.loadMs(),
        (System.nanoTime() - start) / 1e9, g.seconds(), t.warnings(), g.serverMetrics(), stoppedBy(attempt, left), reused.count(),
        t.cachedTokens());
  }

  /** The same totals read from the table: each (row, sample)'s latest attempt in the run. */
  private WrittenTally.Totals latestTotals(RunTable table) {
    Dataset<Row> latest = table.latest(job.runId()).persist(StorageLevel.MEMORY_AND_DISK());
    try {
      Row r = latest.agg(
          sum(when(col("status").equalTo("ok"), 1).otherwise(0)),
          sum(when(col("status").equalTo("error"), 1).otherwise(0)),
          sum(when(col("status").equalTo("skipped"), 1).otherwise(0)),
          sum(coalesce(col("prompt_tokens"), lit(0))),
          sum(coalesce(col("completion_tokens"), lit(0))),
          sum(col("cached_tokens"))).first(); // null when no row has one
      Map<String, Long> warnings = new LinkedHashMap<>();
      for (Row w : latest.select(explode(col("warnings")).as("w")).groupBy("w").count().orderBy("w").collectAsList()) {
        warnings.put(w.getString(0), w.getLong(1));
      }
      return new WrittenTally.Totals(longOr0(r, 0), longOr0(r, 1), longOr0(r, 2), longOr0(r, 3), longOr0(r, 4), warnings,
          r.isNullAt(5) ? null : r.getLong(5));
    } finally {
      latest.unpersist();
    }
  }

  private static long longOr0(Row r, int i) {
    return r.isNullAt(i) ? 0 : r.getLong(i);
  }

  private Dataset<Row> readInput() {
    String path = job.config().string(ConfigKeys.INPUT_PATH);
    return switch (job.inputFormat()) {
      // PERMISSIVE keeps a broken line as a row (in _corrupt_record) so it is reported, not dropped.
      case "jsonl" -> spark.read().option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", InputColumns.CORRUPT).json(path);
      case "parquet" -> spark.read().parquet(path);
      case "delta" -> spark.read().format("delta").load(path);
      // batchio: OpenAI Batch request lines, read into the ordinary input shape (bad lines carry _jgen_input_error).
      case "openai-batch" -> dev.jgen.input.OpenAiBatchInput.read(spark, path);
      default -> throw new ConfigException(ConfigKeys.INPUT_FORMAT + ": unsupported " + job.inputFormat());
    };
  }

  /** Numbers the rows 0..N-1 in input order: error messages and resume keys can name a row that has no usable id. */
  private Dataset<Row> withRowNumbers(Dataset<Row> input) {
    return RowIndex.append(spark, input, InputColumns.ROW);
  }

  /**
   * Adds the resume key and the checks that need the whole input: a repeated id keeps its first row and marks the
   * others as errors, each with a key of its own so nothing is lost and nothing collides.
   */
  private Dataset<Row> keyed(Dataset<Row> numbered, String idColumn) {
    return dev.jgen.input.RowKeys.keyed(numbered, col(idColumn).cast("string"), InputColumns.ROW, "id", InputColumns.KEY,
        InputColumns.PRECHECK);
  }

  /** Prints "rows done / total, tokens per second" at most every interval, from the tasks' accumulators. */
  private static final class ProgressLine implements AutoCloseable {
    private final PrintStream out;
    private final GeneratePartition.RunCounters counters;
    private final long total;
    private final long skipped;
    private final long start = System.nanoTime();
    private final Thread thread;
    private volatile String chunks = "";

    /** The budget's use ("" without one). */
    private final java.util.function.Supplier<String> budget;

    ProgressLine(PrintStream out, Duration every, GeneratePartition.RunCounters counters, long total, long skipped,
        java.util.function.Supplier<String> budget) {
      this.budget = budget;
      this.out = out;
      this.counters = counters;
      this.total = total;
      this.skipped = skipped;
      this.thread = new Thread(() -> {
        try {
          while (true) {
            Thread.sleep(every.toMillis());
            print();
          }
        } catch (InterruptedException e) {
          // closed
        }
      }, "jgen-progress");
      thread.setDaemon(true);
      if (out != null) {
        if (skipped > 0) {
          out.printf(Locale.ROOT, "jgen: resuming: %d (row, sample) pairs already in the run, %d to go%n", skipped, total);
        }
        thread.start();
      }
    }

    void chunkCommitted(int done) {
      chunks = String.format(Locale.ROOT, ", %d chunk%s committed", done, done == 1 ? "" : "s");
    }

    private void print() {
      double s = (System.nanoTime() - start) / 1e9;
      long rows = counters.rows().value();
      out.printf(Locale.ROOT, "jgen: %d/%d rows (%.0f%%), %d errors, %.1f tok/s%s%n", rows, total,
          total == 0 ? 100.0 : 100.0 * rows / total, rows - counters.ok().value(), counters.completionTokens().value() / s,
          chunks + budget.get());
    }

    @Override
    public void close() {
      thread.interrupt();
      if (out != null && total > 0) {
        print();
      }
    }
  }
}
