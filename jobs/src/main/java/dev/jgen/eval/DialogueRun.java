package dev.jgen.eval;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import dev.jgen.config.ConfigKeys;
import dev.jgen.config.JobConfig;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.delta.RunTable;
import dev.jgen.delta.TableKind;
import dev.jgen.generate.RunHealth;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.spark.ChunkedRun;
import dev.jgen.spark.GenerateJob;
import dev.jgen.spark.BaseRunAction;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
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
 * The driver side shared by the multi-turn kinds (MT-Bench answers, self-chat, judgments), on the run machinery every
 * kind shares ({@link BaseRunAction}: claim, lock, fencing, resume, chunked idempotent commits, the runs table): a
 * conversation the run already holds, ok or error, is not generated again ({@code --retry-errors} regenerates the errors
 * as a new attempt, with new seeds). A kind supplies its table, its conversations and its planner.
 */
final class DialogueRun extends BaseRunAction<DialogueRun.Outcome> {
  /**
   * What a multi-turn kind supplies: its table once, in the constructor, and the parts that differ (its conversations,
   * planner, rows, what its commits add) as methods.
   */
  abstract static class Kind {
    private final RunTable.Spec spec;

    Kind(RunTable.Spec spec) {
      this.spec = spec;
    }

    final RunTable.Spec spec() {
      return spec;
    }

    /** The conversations of the input, error ones included; each input row gives generation.n of them. */
    abstract JavaRDD<Dialogue> dialogues(JavaRDD<EvalInput.Record> input, int n);

    abstract DialoguePartition.Planner planner();

    /** Generations a conversation needs at most. */
    abstract int maxSteps();

    abstract DialoguePartition.RowMaker rows(int attempt);

    /** What the kind's commits record beside what every kind's do. */
    void describeCommit(ObjectNode metadata) {}

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

  /** Conventional spec of a multi-turn kind's table: change data feed on, no columns added later. */
  static RunTable.Spec spec(TableKind kind, StructType schema, String sampleColumn) {
    return new RunTable.Spec(kind, schema, sampleColumn, java.util.Map.of("delta.enableChangeDataFeed", "true"), List.of());
  }

  /** What an attempt did, over the run's latest rows for the input's conversations. */
  record Outcome(int attempt, long rowsIn, long ok, long error, long generatedNow, long promptTokensNow,
      long completionTokensNow, long modelLoadMs, String output, double seconds, String stoppedBy) {}

  private final Kind kind;
  private final String idColumn;
  private final String idName;

  DialogueRun(SparkSession spark, GenerateJob job, Kind kind, String idColumn, String idName) {
    super(spark, job, kind.spec());
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

  @Override
  protected void describeCommit(ObjectNode metadata) {
    kind.describeCommit(metadata);
  }

  @Override
  protected Totals totals(Outcome o) {
    return new Totals(o.rowsIn(), o.generatedNow(), o.ok(), o.error(), 0, o.promptTokensNow(), o.completionTokensNow(),
        o.seconds() > 0 ? o.completionTokensNow() / o.seconds() : 0, o.modelLoadMs(), o.seconds(), o.seconds(), null, null, o.stoppedBy());
  }

  @Override
  protected Outcome run(Attempt attempt) {
    long start = System.nanoTime();
    JobConfig config = job.config();
    int n = config.integer(ConfigKeys.N);
    RunTable table = attempt.table();
    JavaRDD<Dialogue> all = null;
    JavaRDD<Dialogue> pending = null;
    Broadcast<PromptSpec> prompts = null;
    try {
      all = kind.dialogues(kind.input(spark, job, idColumn, idName), n).persist(StorageLevel.MEMORY_AND_DISK());
      long rowsIn = all.count();
      // Resume: every conversation the run holds is done (an error row stays an error, committed, unless
      // --retry-errors asks for it again): one anti-join, nothing collected to the driver.
      JavaRDD<Dialogue> todo = all;
      if (attempt.resuming()) {
        var doneKeys = done(attempt).javaRDD().mapToPair(r -> new scala.Tuple2<>(r.getString(0) + "\u0000" + r.getInt(1), true));
        todo = all.mapToPair(d -> new scala.Tuple2<>(d.rowKey + "\u0000" + d.sample, d)).subtractByKey(doneKeys).values();
      }
      // A --retry-errors attempt samples anew (as generate does): the seed keys of its conversations change.
      String salt = attempt.reseed(retryErrors) ? "#retry" + attempt.number() : "";
      pending = (salt.isEmpty() ? todo : todo.map(d -> d.withSeedSalt(salt))).persist(StorageLevel.MEMORY_AND_DISK());
      prompts = JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(job.prompts());
      var sc = spark.sparkContext();
      var counters = new DialoguePartition.Counters(sc.longAccumulator("jgen.eval.generated"), sc.longAccumulator("jgen.eval.failed"),
          sc.longAccumulator("jgen.eval.prompt_tokens"), sc.longAccumulator("jgen.eval.completion_tokens"),
          sc.longAccumulator("jgen.eval.conversations"), sc.longAccumulator("jgen.eval.model_load_ms"));
      DialoguePartition.Plan plan = new DialoguePartition.Plan(job.runId(), attempt.number(), kind.samplesPerRow(n), kind.maxSteps(),
          job.engine(), new RunHealth.Limits(config.number(ConfigKeys.MAX_FAILURE_RATE), config.integer(ConfigKeys.FAILURE_WINDOW),
              config.integer(ConfigKeys.ENGINE_REQUEST_TIMEOUT_S)));
      DialoguePartition.Planner planner = kind.planner();
      DialoguePartition.RowMaker rows = kind.rows(attempt.number());
      Broadcast<PromptSpec> spec = prompts;
      // A conversation is several generations: chunks of conversations are a quarter of generate's.
      long maxRows = config.integer(ConfigKeys.CHUNK_ROWS) > 0 ? config.integer(ConfigKeys.CHUNK_ROWS) : 256;
      String what = kind.spec().kind().what();
      ChunkedRun<Dialogue> run = new ChunkedRun<>(spark, pending, plan::position, Math.max(1, Math.min(16, maxRows / 8)),
          kind.spec().schema(), accounting -> new DialoguePartition(plan, planner, rows, spec, counters, accounting),
          committer(attempt), chunkSettings(attempt, maxRows), attempt.lock()::checkLock, chunks -> {
            if (progress != null) {
              progress.printf(Locale.ROOT, "jgen: %s: %d conversations done, %d generations, %d failed, %d chunks committed, %.1f s%n",
                  what, counters.conversations().value(), counters.generated().value(), counters.failed().value(), chunks,
                  (System.nanoTime() - start) / 1e9);
            }
          });
      long generatedNow = run.pendingItems();
      run.run();
      Dataset<Row> keys = spark.createDataFrame(all.map(d -> RowFactory.create(d.rowKey, d.sample)),
          new StructType().add("row_key", DataTypes.StringType).add(kind.spec().sampleColumn(), DataTypes.IntegerType));
      Row s = table.latest(job.runId())
          .join(keys, scala.jdk.javaapi.CollectionConverters.asScala(List.of("row_key", kind.spec().sampleColumn())).toSeq(), "left_semi")
          .agg(sum(when(col("status").equalTo("ok"), 1).otherwise(0)), sum(when(col("status").equalTo("error"), 1).otherwise(0)))
          .first();
      long ok = s.isNullAt(0) ? 0 : s.getLong(0);
      long error = s.isNullAt(1) ? 0 : s.getLong(1);
      double seconds = (System.nanoTime() - start) / 1e9;
      return new Outcome(attempt.number(), rowsIn, ok, error, generatedNow, counters.promptTokens().value(),
          counters.completionTokens().value(), counters.modelLoadMs().value(), table.path(), seconds,
          stoppedBy(attempt, rowsIn - ok - error));
    } finally {
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
