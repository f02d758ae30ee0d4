package dev.jgen.spark;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.config.ConfigKeys;
import dev.jgen.delta.RunTable;
import dev.jgen.delta.RunsTable;
import dev.jgen.delta.TableKind;
import java.io.PrintStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * What every job kind's run shares, as Iceberg's {@code BaseSparkAction} is for its actions: the run's claim and lock
 * ({@link RunAttempt}), fencing of attempts that never ended, {@code run.mode=new}, what a resume skips (one anti-join
 * against the run's latest rows), chunk transaction ids and Spark job groups from the kind's stable id
 * ({@link TableKind}), commit metadata, and the runs-table record of how the attempt ended. A kind supplies its table
 * ({@link RunTable.Spec}), its items, planner and rows, in {@link #run(Attempt)}; options, then {@link #execute()}.
 *
 * @param <R> the kind's result
 */
public abstract class BaseRunAction<R> {
  private static final ObjectMapper JSON = new ObjectMapper();

  protected final SparkSession spark;
  protected final GenerateJob job;
  protected final RunTable.Spec spec;
  protected PrintStream progress = System.err;
  protected boolean retryErrors;
  /** The attempt's budget and deadline, fixed when it starts (a duration deadline counts from then). */
  private RunStop.Limits stopLimits = RunStop.Limits.NONE;

  protected BaseRunAction(SparkSession spark, GenerateJob job, RunTable.Spec spec) {
    this.spark = spark;
    this.job = job;
    this.spec = spec;
  }

  /** An attempt that holds the run: its table (fenced, replaced where asked) and lock. */
  public record Attempt(RunTable table, RunAttempt lock, int number, boolean resuming, boolean replaced) {
    /** A --retry-errors attempt of a run that has rows: every item it generates gets a new seed. */
    public boolean reseed(boolean retryErrors) {
      return retryErrors && resuming;
    }
  }

  /**
   * How the attempt ended, for the runs table.
   *
   * @param stoppedBy as {@link #stoppedBy(Attempt, long)} gave it to the kind's result: the attempt ends "stopped"
   */
  public record Totals(long rowsIn, long generatedNow, long ok, long error, long missingFromInput, long promptTokens,
      long completionTokens, double completionTokensPerSecond, long modelLoadMs, double generationSeconds, double seconds,
      String message, Long cachedTokens, String stoppedBy) {}

  /** The kind's part of the attempt: plan what is pending, generate it chunk by chunk, count. */
  protected abstract R run(Attempt attempt);

  /** The runs-table record's counts of the kind's result. */
  protected abstract Totals totals(R result);

  /** First thing of {@link #execute()}, before the claim: a kind starts what can overlap it (reading its input). */
  protected void prepare() {}

  /** Opens (or creates) the kind's table; runs on another thread while the runs table is read. */
  protected RunTable openTable() {
    RunTable t = RunTable.openOrCreate(spark, outputPath(), spec);
    t.prepareAppends();
    return t;
  }

  /** Checks made once the table is open and before the claim is written (a missing id column): nothing written yet. */
  protected void beforeClaim(RunTable table) {}

  /** What the kind adds to each chunk's commit metadata beside what every kind records. */
  protected void describeCommit(ObjectNode metadata) {}

  /** Called when the claim could not be made (nothing of this run started): a kind stops what it began meanwhile. */
  protected void claimFailed() {}

  public final R execute() {
    try (SmallRun small = SmallRun.forInput(spark, job.config().string(ConfigKeys.INPUT_PATH))) {
      // A new command tries again what failed to load before in this JVM (the cause may be fixed); within the command,
      // a failed load is not repeated by every task.
      dev.jgen.engine.EngineRegistry.forgetFailedLoads();
      stopLimits = stopLimits(job.config(), System.currentTimeMillis());
      prepare();
      Attempt attempt = begin();
      try {
        R result = run(attempt);
        Totals t = totals(result);
        String stopped = t.stoppedBy();
        attempt.lock().finish(stopped == null ? "finished" : "stopped", t.rowsIn(), t.generatedNow(), t.ok(), t.error(),
            t.missingFromInput(), t.promptTokens(), t.completionTokens(), t.completionTokensPerSecond(), t.modelLoadMs(),
            t.generationSeconds(), t.seconds(), stopped == null ? t.message()
                : "stopped_by=" + stopped + (t.message() == null ? "" : "; " + t.message()), t.cachedTokens());
        return result;
      } catch (RuntimeException | Error e) {
        attempt.lock().fail(e);
        throw e;
      } finally {
        attempt.lock().close();
        RunStop.release(spec.kind().jobGroup(job.runId(), attempt.number()));
      }
    }
  }

  protected final String outputPath() {
    return job.config().string(ConfigKeys.OUTPUT_PATH);
  }

  /**
   * Claims the run and makes the table ready for the attempt. The table opens on another thread while the runs table
   * is read; a path holding anything but a jgen table of this kind is refused before a runs table is created beside it.
   */
  private Attempt begin() {
    String outputPath = outputPath();
    boolean replace = job.config().string(ConfigKeys.RUN_MODE).equals("new");
    CompletableFuture<RunTable> opening = CompletableFuture.supplyAsync(this::openTable);
    RunAttempt lock;
    int[] inTable = new int[1];
    try {
      java.util.Optional<RunsTable> existing = RunsTable.openIfExists(spark, job.runsPath());
      if (existing.isEmpty() && !RunTable.isNew(outputPath)) {
        joined(opening);
      }
      RunsTable runs = existing.orElseGet(() -> RunsTable.openOrCreate(spark, job.runsPath()));
      lock = RunAttempt.start(runs, RunIdentity.of(job), () -> {
        RunTable t = joined(opening);
        beforeClaim(t);
        inTable[0] = t.lastAttempt(job.runId());
        return inTable[0] + 1;
      }, replace);
    } catch (RuntimeException | Error e) {
      opening.handle((r, x) -> null).join(); // no Spark job of this run left behind; the first error is the one to tell
      claimFailed();
      throw e;
    }
    RunTable table = joined(opening);
    int number = lock.attempt();
    // A lock that cannot be renewed, or that another job took over, stops this job's chunks before they commit.
    String group = spec.kind().jobGroup(job.runId(), number);
    lock.onLockLost(() -> spark.sparkContext().cancelJobGroup(group));
    try {
      // An earlier attempt that never ended may still commit chunks (a job paused past its lease): fenced off first,
      // and the table read again after, so what this attempt plans is final.
      boolean fenced = lock.fenceUnfinished(spark, outputPath, a -> spec.kind().chunkIdPrefix(job.runId(), a),
          Math.max(64, ChunkedRun.maxUncommitted(job.config().integer(ConfigKeys.CHUNKS_IN_FLIGHT))));
      int lastAttempt = fenced ? table.lastAttempt(job.runId()) : inTable[0];
      boolean deleted = replace && lastAttempt > 0;
      if (deleted) {
        table.deleteRun(job.runId());
      }
      if (fenced || deleted) {
        table.prepareAppends(); // the table changed since it was opened (and its replay started): replay the new version
      }
      return new Attempt(table, lock, number, lastAttempt > 0 && !replace, replace);
    } catch (RuntimeException | Error e) {
      lock.fail(e);
      lock.close();
      throw e;
    }
  }

  /**
   * The (row, sample) pairs a resume skips, as columns {@code _done_key} and {@code _done_sample}: every pair the run
   * holds, or with --retry-errors every pair whose latest row is not an error. Anti-joined by the kind with its items.
   */
  protected final Dataset<Row> done(Attempt attempt) {
    Dataset<Row> latest = attempt.table().latest(job.runId());
    Dataset<Row> done = retryErrors ? latest.where(col("status").notEqual("error")) : latest;
    return done.select(col("row_key").as("_done_key"), col(spec.sampleColumn()).as("_done_sample"));
  }

  /** The budget and deadline keys, for an attempt that starts at {@code startMillis}. */
  static RunStop.Limits stopLimits(dev.jgen.config.JobConfig config, long startMillis) {
    Long completion = config.isSet(ConfigKeys.MAX_COMPLETION_TOKENS_TOTAL) ? config.longValue(ConfigKeys.MAX_COMPLETION_TOKENS_TOTAL) : null;
    Long prompt = config.isSet(ConfigKeys.MAX_PROMPT_TOKENS_TOTAL) ? config.longValue(ConfigKeys.MAX_PROMPT_TOKENS_TOTAL) : null;
    String deadline = config.isSet(ConfigKeys.DEADLINE) ? config.string(ConfigKeys.DEADLINE) : null;
    return new RunStop.Limits(completion == null ? 0 : completion, prompt == null ? 0 : prompt,
        deadline == null ? Long.MAX_VALUE : dev.jgen.config.Deadlines.atMillis(deadline, startMillis),
        config.integer(ConfigKeys.STOP_GRACE_S) * 1000L);
  }

  /** This JVM's meter of the attempt's budget and deadline (the one its local tasks add to). */
  private RunStop.Meter meter(Attempt attempt) {
    return RunStop.meter(spec.kind().jobGroup(job.runId(), attempt.number()), stopLimits);
  }

  /**
   * "budget" or "deadline" when one stopped the attempt with {@code left} items not written, else null: a limit reached
   * as the last pending items finished stopped nothing (the attempt is complete, and a scheduler need not rerun it).
   */
  protected final String stoppedBy(Attempt attempt, long left) {
    return left > 0 && stopLimits.any() ? meter(attempt).stoppedBy() : null;
  }

  /**
   * The attempt's spending as its accumulators tell the driver after a chunk (every executor's rows): on a cluster the
   * driver's meter learns of other executors' tokens this way, and starts no new chunk once a budget is reached.
   */
  protected final void observeSpending(Attempt attempt, long promptTokens, long completionTokens) {
    if (stopLimits.any()) {
      meter(attempt).observeTotals(promptTokens, completionTokens);
    }
  }

  /** The budget's use, for progress lines ("" without a budget). */
  protected final String budgetWords(Attempt attempt) {
    RunStop.Limits l = stopLimits;
    if (l.maxCompletionTokens() <= 0 && l.maxPromptTokens() <= 0) {
      return "";
    }
    RunStop.Meter m = meter(attempt);
    StringBuilder b = new StringBuilder(", budget");
    if (l.maxCompletionTokens() > 0) {
      b.append(String.format(java.util.Locale.ROOT, " %d/%d completion tokens", m.completionTokens(), l.maxCompletionTokens()));
    }
    if (l.maxPromptTokens() > 0) {
      b.append(String.format(java.util.Locale.ROOT, " %d/%d prompt tokens", m.promptTokens(), l.maxPromptTokens()));
    }
    return b.toString();
  }

  /** Each chunk commits once, under the kind's stable chunk id, with the run's lineage. */
  protected final ChunkedRun.Committer committer(Attempt attempt) {
    return ChunkedRun.Committer.of(
        (out, chunk) -> attempt.table().appendChunk(out, job.runId(), attempt.number(), chunk, commitMetadata(attempt.number(), chunk)),
        attempt.table()::prepareAppends);
  }

  /** How chunks run: defaults derive from the engine's capacity and Spark's parallelism (see ConfigKeys). */
  protected final ChunkedRun.Settings chunkSettings(Attempt attempt, long maxChunkRows) {
    return ChunkedRun.Settings.of(job.config(), spark, maxChunkRows, spec.kind().jobGroup(job.runId(), attempt.number()), job.engine(),
        stopLimits, spec.kind().id() + " run " + job.runId() + " attempt " + attempt.number());
  }

  /** The same for every kind: who wrote the chunk, with which code, settings, model and template. */
  final String commitMetadata(int attempt, long chunk) {
    return commitMetadata(attempt, JSON.getNodeFactory().numberNode(chunk));
  }

  /** The same for a chunk named rather than numbered (job.reuse's copies: "reuse"). */
  final String commitMetadata(int attempt, String chunk) {
    return commitMetadata(attempt, JSON.getNodeFactory().textNode(chunk));
  }

  private String commitMetadata(int attempt, com.fasterxml.jackson.databind.JsonNode chunk) {
    ObjectNode o = JSON.createObjectNode();
    o.put("job_kind", spec.kind().id());
    o.put("jgen_version", JgenVersion.version());
    String git = JgenVersion.gitRevision();
    if (git != null) {
      o.put("git_revision", git);
    }
    o.put("run_id", job.runId());
    o.put("attempt", attempt);
    o.set("chunk", chunk);
    o.put("config_hash", job.configHash());
    o.put("model_id", job.model().modelId());
    o.put("template_sha256", job.prompts().templateSha256());
    o.put("template_origin", job.prompts().templateOrigin());
    describeCommit(o);
    return o.toString();
  }

  /** A result made on another thread; its own exception (a missing file, a bad format) as if made on this one. */
  protected static <T> T joined(CompletableFuture<T> future) {
    try {
      return future.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw BaseRunAction.<RuntimeException>undeclared(e.getCause() == null ? e : e.getCause());
    }
  }

  /**
   * Rethrows a checked exception that Scala code threw undeclared (Spark's SparkException, AnalysisException) as itself,
   * not wrapped: the message the user sees names the failure, not the thread it happened on.
   */
  @SuppressWarnings("unchecked")
  private static <X extends Throwable> X undeclared(Throwable t) throws X {
    throw (X) t;
  }
}
