package dev.jgen.delta;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import io.delta.kernel.DataWriteContext;
import io.delta.kernel.Operation;
import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.TableManager;
import io.delta.kernel.Transaction;
import io.delta.kernel.TransactionCommitResult;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.engine.FileReadResult;
import io.delta.kernel.exceptions.ConcurrentTransactionException;
import io.delta.kernel.exceptions.TableNotFoundException;
import io.delta.kernel.expressions.Column;
import io.delta.kernel.expressions.Literal;
import io.delta.kernel.expressions.Predicate;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.data.ScanStateRow;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.utils.CloseableIterable;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.DataFileStatus;
import io.delta.kernel.utils.FileStatus;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Optional;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * One row per run attempt ({@code output.runs_path}): its configuration, timings and counts. It is also the run's lock:
 * an attempt marked {@code running} whose heartbeat is fresh keeps a second job off the same run. Written by appends
 * only (cheaper than MERGE, and the history of each attempt stays): the newest row of an attempt is its state.
 */
public final class RunsTable {
  public static final StructType SCHEMA = new StructType()
      .add("run_id", DataTypes.StringType, false)
      .add("attempt", DataTypes.IntegerType, false)
      .add("status", DataTypes.StringType, false)
      .add("owner", DataTypes.StringType)
      .add("config_hash", DataTypes.StringType)
      .add("config", DataTypes.StringType)
      .add("model_id", DataTypes.StringType)
      .add("template_sha256", DataTypes.StringType)
      .add("jgen_version", DataTypes.StringType)
      .add("started_at", DataTypes.TimestampType)
      .add("heartbeat_at", DataTypes.TimestampType)
      .add("ended_at", DataTypes.TimestampType)
      .add("rows_in", DataTypes.LongType)
      .add("generated", DataTypes.LongType)
      .add("ok", DataTypes.LongType)
      .add("error", DataTypes.LongType)
      .add("missing_from_input", DataTypes.LongType)
      .add("prompt_tokens", DataTypes.LongType)
      .add("completion_tokens", DataTypes.LongType)
      .add("completion_tokens_per_second", DataTypes.DoubleType)
      .add("model_load_ms", DataTypes.LongType)
      .add("generation_seconds", DataTypes.DoubleType)
      .add("seconds", DataTypes.DoubleType)
      .add("message", DataTypes.StringType)
      // Issue 28: prompt tokens the engines took from their prefix caches. Kernel adds no column to a table without
      // column mapping, so a runs table made before it has none (the value is left out there, and read as null).
      .add("cached_tokens", DataTypes.LongType);

  private final SparkSession spark;
  private final String path;
  /** Hadoop's settings for the heartbeat files, made once: the heartbeat must not copy the session's settings each beat. */
  private volatile org.apache.hadoop.conf.Configuration hadoopConf;
  /** Delta Kernel over the same Hadoop settings: the lock's reads and writes, without Spark jobs. */
  private volatile Engine kernel;
  private volatile String resolvedPath;

  private RunsTable(SparkSession spark, String path) {
    this.spark = spark;
    this.path = path;
  }

  /*
   * The lock's reads and record writes go through Delta Kernel, not Spark: a run's start reads this table, appends its
   * record and reads it again, and its end appends once more. Through Spark each is a query planned and run as jobs
   * (seconds each in a fresh JVM, most of a 12-row run's start); through Kernel, a log replay and a one-row Parquet
   * file. The table stays an ordinary Delta table: Spark reads it for `jgen runs` (all()), and tables that Spark made
   * are written the same way.
   */

  public static RunsTable openOrCreate(SparkSession spark, String path) {
    RunsTable t = new RunsTable(spark, path);
    if (!t.exists()) {
      KernelTables.create(t.kernel(), t.resolved(), SCHEMA, List.of(), Map.of());
    }
    return t;
  }

  /** The runs table beside a generations table, or null when there is none. */
  public static Optional<RunsTable> openIfExists(SparkSession spark, String path) {
    RunsTable t = new RunsTable(spark, path);
    return t.exists() ? Optional.of(t) : Optional.empty();
  }

  private boolean exists() {
    try {
      snapshot();
      return true;
    } catch (TableNotFoundException e) {
      return false;
    }
  }

  /** Default location: beside the output table, named {@code <output>_runs}. */
  public static String besideOutput(String outputPath) {
    String p = outputPath.endsWith("/") ? outputPath.substring(0, outputPath.length() - 1) : outputPath;
    return p + "_runs";
  }

  public String path() {
    return path;
  }

  /** The current state of every attempt: its newest row (a Spark read, for the inspecting commands). */
  public Dataset<Row> all() {
    var w = Window.partitionBy("run_id", "attempt").orderBy(col("heartbeat_at").desc_nulls_last(), col("ended_at").desc_nulls_last());
    return spark.read().format("delta").load(path).withColumn("_rank", functions.row_number().over(w))
        .where(col("_rank").equalTo(1)).drop("_rank");
  }

  /** The current state of each attempt of one run (its newest record), by attempt number. */
  public List<RunRecord> attempts(String runId) {
    return newestOfEach(records(runId, snapshot()));
  }

  private static List<RunRecord> newestOfEach(List<RunRecord> records) {
    Map<Integer, RunRecord> newest = new TreeMap<>();
    Comparator<RunRecord> order = Comparator.comparing(RunRecord::heartbeatAt, Comparator.nullsFirst(Comparator.naturalOrder()))
        .thenComparing(RunRecord::endedAt, Comparator.nullsFirst(Comparator.naturalOrder()));
    for (RunRecord r : records) {
      newest.merge(r.attempt(), r, (a, b) -> order.compare(a, b) >= 0 ? a : b);
    }
    return new ArrayList<>(newest.values());
  }

  /** What a claim decides from: the run's attempts and heartbeat files, read from the snapshot the claim commits on. */
  @FunctionalInterface
  public interface ClaimDecision {
    /**
     * @return the record of the new attempt (status running)
     * @throws RuntimeException to refuse the claim; nothing is written
     */
    RunRecord decide(List<RunRecord> attempts, Map<Integer, Long> heartbeatFiles);
  }

  /** Another job's claim on the same run committed first: this one wrote nothing. */
  public static final class ClaimLostException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ClaimLostException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Claims a run: reads its attempts from one snapshot, lets {@code decision} refuse or make the new attempt's record,
   * and appends that record in a commit that also sets the run's claim transaction ({@code jgen-claim-<run>}, one
   * version past the snapshot's). Delta's optimistic concurrency makes the claim atomic: of any jobs that read the
   * same state and claim the run, the first commit wins and every other fails its commit with
   * ConcurrentTransactionException (a concurrent commit set the same application id, which this transaction read),
   * whatever their attempt numbers and clocks; a job that reads after the winner's commit sees its running record.
   *
   * @throws ClaimLostException when another job's claim committed first (nothing written)
   */
  public RunRecord claim(String runId, ClaimDecision decision) {
    Engine engine = kernel();
    Snapshot snapshot = snapshot();
    RunRecord mine = decision.decide(newestOfEach(records(runId, snapshot)), heartbeats(runId));
    String appId = claimAppId(runId);
    long version = snapshot.getLatestTransactionVersion(engine, appId).orElse(0L) + 1;
    try {
      append(snapshot, mine, appId, version);
    } catch (ConcurrentTransactionException e) {
      throw new ClaimLostException("another job claimed run " + runId + " first", e);
    }
    return mine;
  }

  /** The application id of a run's claims in this table's log (its version counts the claims). */
  static String claimAppId(String runId) {
    return "jgen-claim-" + runId;
  }

  /** Every record of one run, read with Kernel: the files whose statistics rule the run out are skipped. */
  private List<RunRecord> records(String runId, Snapshot snapshot) {
    Engine engine = kernel();
    Scan scan = snapshot.getScanBuilder()
        .withFilter(new Predicate("=", new Column("run_id"), Literal.ofString(runId))).build();
    io.delta.kernel.data.Row state = scan.getScanState(engine);
    io.delta.kernel.types.StructType physical = ScanStateRow.getPhysicalDataReadSchema(state);
    List<RunRecord> out = new ArrayList<>();
    try (CloseableIterator<FilteredColumnarBatch> files = scan.getScanFiles(engine)) {
      while (files.hasNext()) {
        try (CloseableIterator<io.delta.kernel.data.Row> fileRows = files.next().getRows()) {
          while (fileRows.hasNext()) {
            io.delta.kernel.data.Row file = fileRows.next();
            FileStatus status = InternalScanFileUtils.getAddFileStatus(file);
            CloseableIterator<ColumnarBatch> data = engine.getParquetHandler()
                .readParquetFiles(Utils.toCloseableIterator(List.of(status).iterator()), physical, Optional.empty())
                .map(FileReadResult::getData);
            try (CloseableIterator<FilteredColumnarBatch> logical = Scan.transformPhysicalData(engine, state, file, data)) {
              while (logical.hasNext()) {
                try (CloseableIterator<io.delta.kernel.data.Row> rows = logical.next().getRows()) {
                  while (rows.hasNext()) {
                    RunRecord r = RunRecord.fromRow(sparkRow(rows.next()));
                    if (runId.equals(r.runId())) {
                      out.add(r);
                    }
                  }
                }
              }
            }
          }
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("runs table " + path + ": " + e.getMessage(), e);
    }
    return out;
  }

  /** Records the attempt's new state: one appended row (a Parquet file and a commit). */
  public void upsert(RunRecord run) {
    append(snapshot(), run, null, 0);
  }

  /** Appends one record on {@code snapshot}, setting transaction {@code appId} to {@code version} when appId is not null. */
  private void append(Snapshot snapshot, RunRecord run, String appId, long version) {
    Engine engine = kernel();
    var builder = snapshot.buildUpdateTableTransaction(ENGINE_INFO, Operation.WRITE);
    if (appId != null) {
      builder = builder.withTransactionId(appId, version);
    }
    Transaction txn = builder.build(engine);
    io.delta.kernel.data.Row state = txn.getTransactionState(engine);
    // Filled by column name from the table's own schema (a table made by Spark, or by an older jgen, has its own).
    io.delta.kernel.types.StructType tableSchema = snapshot.getSchema();
    Row values = run.toRow();
    List<String> ours = List.of(SCHEMA.fieldNames());
    Object[] row = new Object[tableSchema.length()];
    for (int i = 0; i < row.length; i++) {
      int at = ours.indexOf(tableSchema.at(i).getName());
      row[i] = at < 0 ? null : values.get(at);
    }
    try {
      DataWriteContext context = Transaction.getWriteContext(engine, state, Map.of());
      CloseableIterator<FilteredColumnarBatch> physical = Transaction.transformLogicalData(engine, state,
          Utils.toCloseableIterator(List.of(new FilteredColumnarBatch(new ValuesBatch(tableSchema, row), Optional.empty())).iterator()),
          Map.of());
      CloseableIterator<DataFileStatus> written = engine.getParquetHandler()
          .writeParquetFiles(context.getTargetDirectory(), physical, context.getStatisticsColumns());
      TransactionCommitResult result = txn.commit(engine,
          CloseableIterable.inMemoryIterable(Transaction.generateAppendActions(engine, state, written, context)));
      KernelTables.runHooks(engine, result);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("runs table " + path + ": " + e.getMessage(), e);
    }
  }

  private static final String ENGINE_INFO = KernelTables.ENGINE_INFO;

  private Snapshot snapshot() {
    return TableManager.loadSnapshot(resolved()).build(kernel());
  }

  /** The table's fully qualified path, as Kernel wants it (resolved once: a file system call). */
  private String resolved() {
    String r = resolvedPath;
    if (r == null) {
      r = KernelTables.resolve(kernel(), path);
      resolvedPath = r;
    }
    return r;
  }

  private Engine kernel() {
    Engine e = kernel;
    if (e == null) {
      e = DefaultEngine.create(hadoopConf());
      kernel = e;
    }
    return e;
  }

  /** A Kernel row as a Spark row of {@link #SCHEMA} (columns the table lacks are null). */
  private static Row sparkRow(io.delta.kernel.data.Row k) {
    io.delta.kernel.types.StructType ks = k.getSchema();
    Object[] v = new Object[SCHEMA.length()];
    for (int i = 0; i < v.length; i++) {
      int at = ks.indexOf(SCHEMA.fields()[i].name());
      if (at < 0 || k.isNullAt(at)) {
        continue;
      }
      org.apache.spark.sql.types.DataType t = SCHEMA.fields()[i].dataType();
      v[i] = t == DataTypes.StringType ? k.getString(at)
          : t == DataTypes.IntegerType ? (Object) k.getInt(at)
          : t == DataTypes.LongType ? (Object) k.getLong(at)
          : t == DataTypes.DoubleType ? (Object) k.getDouble(at)
          : t == DataTypes.TimestampType ? micros(k.getLong(at))
          : null;
    }
    return new GenericRowWithSchema(v, SCHEMA);
  }

  /** Kernel's timestamps are microseconds since the epoch (whole seconds from getTime, the fraction from getNanos). */
  private static long toMicros(Timestamp t) {
    return Math.floorDiv(t.getTime(), 1000L) * 1_000_000L + t.getNanos() / 1000;
  }

  private static Timestamp micros(long us) {
    Timestamp t = new Timestamp(Math.floorDiv(us, 1_000_000L) * 1000);
    t.setNanos((int) Math.floorMod(us, 1_000_000L) * 1000);
    return t;
  }

  /** One row of values as a Kernel batch: what a record append writes. */
  private record ValuesBatch(io.delta.kernel.types.StructType schema, Object[] row) implements ColumnarBatch {
    @Override
    public io.delta.kernel.types.StructType getSchema() {
      return schema;
    }

    @Override
    public int getSize() {
      return 1;
    }

    @Override
    public ColumnVector getColumnVector(int ordinal) {
      Object v = row[ordinal];
      io.delta.kernel.types.DataType type = schema.at(ordinal).getDataType();
      return new ColumnVector() {
        @Override public io.delta.kernel.types.DataType getDataType() { return type; }
        @Override public int getSize() { return 1; }
        @Override public void close() {}
        @Override public boolean isNullAt(int i) { return v == null; }
        @Override public String getString(int i) { return (String) v; }
        @Override public int getInt(int i) { return ((Number) v).intValue(); }
        @Override public double getDouble(int i) { return ((Number) v).doubleValue(); }
        @Override public long getLong(int i) {
          return v instanceof Timestamp t ? toMicros(t) : ((Number) v).longValue();
        }
      };
    }
  }

  /**
   * Writes an attempt's heartbeat file, {@code _jgen_heartbeats/<run>/<attempt>} in this table's folder (a name that
   * starts with "_": Delta and VACUUM leave it alone), holding the time in ms. Through Hadoop's FileSystem, not as a
   * Delta commit: a commit is a Spark job that waits for a free task slot, and a job whose own tasks hold every slot for
   * longer than its lease would lose its lock to its own work.
   */
  public void writeHeartbeat(String runId, int attempt, long millis) throws java.io.IOException {
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(heartbeatDir(runId), Integer.toString(attempt));
    org.apache.hadoop.fs.FileSystem fs = file.getFileSystem(hadoopConf());
    try (var out = fs.create(file, true)) {
      out.write(Long.toString(millis).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }
  }

  /** The heartbeat file time (ms) of each attempt of a run that has one, by attempt number; empty when unreadable. */
  public Map<Integer, Long> heartbeats(String runId) {
    Map<Integer, Long> out = new TreeMap<>();
    try {
      org.apache.hadoop.fs.Path dir = heartbeatDir(runId);
      org.apache.hadoop.fs.FileSystem fs = dir.getFileSystem(hadoopConf());
      if (!fs.exists(dir)) {
        return out;
      }
      for (org.apache.hadoop.fs.FileStatus f : fs.listStatus(dir, p -> p.getName().matches("[0-9]+"))) {
        try (var in = fs.open(f.getPath())) {
          out.put(Integer.parseInt(f.getPath().getName()),
              Long.parseLong(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim()));
        } catch (NumberFormatException e) {
          // a file caught while being written: the table's record speaks for that attempt
        }
      }
    } catch (java.io.IOException e) {
      // unreadable now: the table's records alone judge the lock
    }
    return out;
  }

  private org.apache.hadoop.conf.Configuration hadoopConf() {
    org.apache.hadoop.conf.Configuration c = hadoopConf;
    if (c == null) {
      c = DeltaLogStores.forKernel(spark.sessionState().newHadoopConf());
      hadoopConf = c;
    }
    return c;
  }

  private org.apache.hadoop.fs.Path heartbeatDir(String runId) {
    return new org.apache.hadoop.fs.Path(new org.apache.hadoop.fs.Path(path, "_jgen_heartbeats"), runId);
  }

  public static Timestamp now() {
    return new Timestamp(System.currentTimeMillis());
  }
}
