package dev.jgen.eval;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import dev.jgen.config.ConfigKeys;
import dev.jgen.config.JobConfig;
import dev.jgen.delta.RunsTable;
import dev.jgen.generate.RunHealth;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.spark.ChunkedRun;
import dev.jgen.spark.GenerateJob;
import dev.jgen.spark.RunAttempt;
import dev.jgen.spark.SmallRun;
import java.io.PrintStream;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;

/**
 * The driver side shared by the multi-turn kinds (MT-Bench answers, self-chat), on the run engine every kind uses
 * ({@link ChunkedRun}): the runs table's lock and heartbeat, refusal of changed settings, resume (a conversation the
 * run already holds, ok or error, is not generated again; {@code --retry-errors} regenerates the errors as a new
 * attempt), chunked idempotent commits bounded in rows and time, run errors, progress. A kind supplies its table's
 * schema, its conversations and its planner.
 */
final class DialogueRun {
  /**
   * What a multi-turn kind supplies: its table's identity (name, schema, sample column) once, in the constructor, and
   * the parts that differ (its conversations, planner, rows, commit metadata) as methods.
   */
  abstract static class Kind {
    private final String name;
    private final StructType schema;
    private final String sampleColumn;

    /** @param sampleColumn the column of the table's sample index ({@code choice_index}, {@code sample_index}, {@code turn}) */
    Kind(String name, StructType schema, String sampleColumn) {
      this.name = name;
      this.schema = schema;
      this.sampleColumn = sampleColumn;
    }

    final String name() {
      return name;
    }

    final StructType schema() {
      return schema;
    }

    final String sampleColumn() {
      return sampleColumn;
    }

    /** The conversations of the input, error ones included; each input row gives generation.n of them. */
    abstract JavaRDD<Dialogue> dialogues(JavaRDD<EvalInput.Record> input, int n);

    abstract DialoguePartition.Planner planner();

    /** Generations a conversation needs at most. */
    abstract int maxSteps();

    abstract DialoguePartition.RowMaker rows(int attempt);

    /** The commit's userMetadata. */
    abstract String commitMetadata(int attempt, int chunk);

    /** The input rows (default: input.path through {@link EvalInput}); the judge reads answers its own way. */
    JavaRDD<EvalInput.Record> input(SparkSession spark, GenerateJob job, String idColumn, String idName) {
      return EvalInput.read(spark, job, idColumn, idName);
    }

    /**
     * Sample numbers an input row's conversations take at most (their sample column's values are below it): positions
     * (input row x this + sample) must be unique, chunks being cut and resumed by them. Default: generation.n.
     */
    int samplesPerRow(int n) {
      return n;
    }
  }

  /** What an attempt did, over the run's latest rows for the input's conversations. */
  record Outcome(int attempt, long rowsIn, long ok, long error, long generatedNow, long completionTokensNow, String output,
      double seconds) {}

  private final SparkSession spark;
  private final GenerateJob job;
  private final Kind kind;
  private final String idColumn;
  private final String idName;
  private PrintStream progress = System.err;
  private boolean retryErrors;

  DialogueRun(SparkSession spark, GenerateJob job, Kind kind, String idColumn, String idName) {
    this.spark = spark;
    this.job = job;
    this.kind = kind;
    this.idColumn = idColumn;
    this.idName = idName;
  }

  DialogueRun progress(PrintStream out) {
    this.progress = out;
    return this;
  }

  DialogueRun retryErrors(boolean retry) {
    this.retryErrors = retry;
    return this;
  }

  Outcome execute() {
    try (SmallRun small = SmallRun.forInput(spark, job.config().string(ConfigKeys.INPUT_PATH))) {
      return executeRun();
    }
  }

  private Outcome executeRun() {
    long start = System.nanoTime();
    JobConfig config = job.config();
    int n = config.integer(ConfigKeys.N);
    String outputPath = config.string(ConfigKeys.OUTPUT_PATH);
    EvalTable table = EvalTable.openOrCreate(spark, outputPath, kind.schema(), kind.name(), kind.sampleColumn());
    RunsTable runs = RunsTable.openOrCreate(spark, job.runsPath());
    boolean replace = config.string(ConfigKeys.RUN_MODE).equals("new");
    int lastAttempt = table.lastAttempt(job.runId());
    RunAttempt attempt = RunAttempt.start(runs, job, lastAttempt + 1, replace);
    String group = "jgen-" + job.runId() + "-attempt-" + attempt.attempt();
    attempt.onLockLost(() -> spark.sparkContext().cancelJobGroup(group));
    JavaRDD<Dialogue> all = null;
    JavaRDD<Dialogue> pending = null;
    Broadcast<PromptSpec> prompts = null;
    try {
      // An earlier attempt that never ended may still commit chunks (a job paused past its lease): fenced off first.
      if (attempt.fenceUnfinished(spark, outputPath, a -> "jgen-" + kind.name().replace(' ', '-') + "-" + job.runId() + "-attempt-" + a
          + "-chunk-", Math.max(64, ChunkedRun.maxUncommitted(config.integer(ConfigKeys.CHUNKS_IN_FLIGHT))))) {
        lastAttempt = table.lastAttempt(job.runId());
      }
      if (replace && lastAttempt > 0) {
        table.deleteRun(job.runId());
      }
      all = kind.dialogues(kind.input(spark, job, idColumn, idName), n).persist(StorageLevel.MEMORY_AND_DISK());
      long rowsIn = all.count();
      // Resume: every conversation the run holds is done (an error row stays an error, committed, unless
      // --retry-errors asks for it again).
      Dataset<Row> latest = table.latest(job.runId());
      Dataset<Row> done = retryErrors ? latest.where(col("status").notEqual("error")) : latest;
      Set<String> doneKeys = new HashSet<>();
      for (Row r : done.select("row_key", kind.sampleColumn()).collectAsList()) {
        doneKeys.add(r.getString(0) + "\u0000" + r.getInt(1));
      }
      pending = all.filter(d -> !doneKeys.contains(d.rowKey + "\u0000" + d.sample)).persist(StorageLevel.MEMORY_AND_DISK());
      prompts = JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(job.prompts());
      var sc = spark.sparkContext();
      var counters = new DialoguePartition.Counters(sc.longAccumulator("jgen.eval.generated"), sc.longAccumulator("jgen.eval.failed"),
          sc.longAccumulator("jgen.eval.prompt_tokens"), sc.longAccumulator("jgen.eval.completion_tokens"),
          sc.longAccumulator("jgen.eval.conversations"));
      DialoguePartition.Plan plan = new DialoguePartition.Plan(job.runId(), attempt.attempt(), kind.samplesPerRow(n), kind.maxSteps(), job.engine(),
          new RunHealth.Limits(config.number(ConfigKeys.MAX_FAILURE_RATE), config.integer(ConfigKeys.FAILURE_WINDOW),
              config.integer(ConfigKeys.ENGINE_REQUEST_TIMEOUT_S)));
      DialoguePartition.Planner planner = kind.planner();
      DialoguePartition.RowMaker rows = kind.rows(attempt.attempt());
      Broadcast<PromptSpec> spec = prompts;
      // A conversation is several generations: chunks of conversations are a quarter of generate's.
      long maxRows = config.integer(ConfigKeys.CHUNK_ROWS) > 0 ? config.integer(ConfigKeys.CHUNK_ROWS) : 256;
      String appId = "jgen-" + kind.name().replace(' ', '-') + "-" + job.runId() + "-attempt-" + attempt.attempt() + "-chunk-";
      int number = attempt.attempt();
      ChunkedRun<Dialogue> run = new ChunkedRun<>(spark, pending, plan::position, Math.max(1, Math.min(16, maxRows / 8)),
          kind.schema(), accounting -> new DialoguePartition(plan, planner, rows, spec, counters, accounting),
          ChunkedRun.Committer.of((out, chunk) -> table.append(out, appId + chunk, 0, kind.commitMetadata(number, chunk)),
              table::prepareAppends),
          ChunkedRun.Settings.of(config, spark, maxRows, group, job.engine()),
          attempt::checkLock, chunks -> {
            if (progress != null) {
              progress.printf(Locale.ROOT, "jgen: %s: %d conversations done, %d generations, %d failed, %d chunks committed, %.1f s%n",
                  kind.name(), counters.conversations().value(), counters.generated().value(), counters.failed().value(), chunks,
                  (System.nanoTime() - start) / 1e9);
            }
          });
      long generatedNow = run.pendingItems();
      run.run();
      Dataset<Row> keys = spark.createDataFrame(all.map(d -> RowFactory.create(d.rowKey, d.sample)),
          new StructType().add("row_key", DataTypes.StringType).add(kind.sampleColumn(), DataTypes.IntegerType));
      Row s = table.latest(job.runId())
          .join(keys, scala.jdk.javaapi.CollectionConverters.asScala(List.of("row_key", kind.sampleColumn())).toSeq(), "left_semi")
          .agg(sum(when(col("status").equalTo("ok"), 1).otherwise(0)), sum(when(col("status").equalTo("error"), 1).otherwise(0)))
          .first();
      long ok = s.isNullAt(0) ? 0 : s.getLong(0);
      long error = s.isNullAt(1) ? 0 : s.getLong(1);
      double seconds = (System.nanoTime() - start) / 1e9;
      long tokens = counters.completionTokens().value();
      attempt.finish(rowsIn, generatedNow, ok, error, 0, counters.promptTokens().value(), tokens, seconds > 0 ? tokens / seconds : 0,
          0, seconds, seconds, null);
      return new Outcome(attempt.attempt(), rowsIn, ok, error, generatedNow, tokens, table.path(), seconds);
    } catch (RuntimeException | Error e) {
      attempt.fail(e);
      throw e;
    } finally {
      attempt.close();
      if (pending != null) {
        pending.unpersist(false);
      }
      if (all != null) {
        all.unpersist(false);
      }
      if (prompts != null) {
        prompts.destroy();
      }
    }
  }
}
