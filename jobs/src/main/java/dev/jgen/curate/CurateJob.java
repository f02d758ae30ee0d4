package dev.jgen.curate;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.JobConfig;
import dev.jgen.delta.DeltaPaths;
import dev.jgen.delta.RunTable;
import dev.jgen.input.Texts;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.ml.feature.HashingTF;
import org.apache.spark.ml.feature.MinHashLSH;
import org.apache.spark.ml.feature.MinHashLSHModel;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.storage.StorageLevel;

/**
 * {@code job.kind=curate}: reads the latest attempt of every candidate of a generations table ({@code curate.generations}),
 * with optional scores ({@code curate.scores}), and writes one curated row per candidate, {@code kept} or not, with the
 * first drop reason that applies, in this order: {@code error} (not ok), {@code below_min_score}, {@code not_best_of_n},
 * then per id (its surviving candidates together) {@code exact_duplicate} (the same instruction after NFKC and
 * whitespace folding) and {@code near_duplicate} (MinHash LSH over character n-grams of the instruction, Jaccard
 * similarity at least {@code curate.near_dup_threshold}). The first id (by id, then source run) of duplicates is kept;
 * a later one names it in {@code duplicate_of}. Near duplicates are judged pairwise: an id is dropped when it is similar
 * to an earlier surviving id, and names the earliest such id.
 *
 * <p>The whole table is written in one Delta commit with the transaction id {@code jgen-curate-<run>-attempt-1-chunk-0};
 * the run id derives from the source tables' versions and the curate settings, so the same command run again writes
 * nothing (and reports the run that is there).
 *
 * <p>The scores table: one row per (source run, id, sample) with {@code score} (a number). Columns read:
 * {@code source_run_id} (else {@code run_id}): the generations run; {@code row_key} (else {@code id}); {@code sample_index};
 * {@code score}; optional {@code attempt} (the latest is used) and {@code status} (a score whose status is not ok is no
 * score). Several rows for one candidate (several judges) are averaged.
 */
public final class CurateJob {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Columns of a generations table curate needs. */
  static final List<String> NEEDED = List.of("run_id", "id", "row_key", "sample_index", "attempt", "status", "output_text",
      "prompt", "created_at");
  /** Kinds of generations tables curate reads (from their commits' job_kind). */
  static final List<String> SOURCE_KINDS = List.of("generate", "magpie");

  /** What the run did. */
  public record Result(String runId, String output, long candidates, long kept, Map<String, Long> dropped, boolean written,
      double seconds) {
    public long droppedTotal() {
      return dropped.values().stream().mapToLong(Long::longValue).sum();
    }
  }

  private final SparkSession spark;
  private final JobConfig config;

  private CurateJob(SparkSession spark, JobConfig config) {
    this.spark = spark;
    this.config = config;
  }

  public static CurateJob of(SparkSession spark, JobConfig config) {
    return new CurateJob(spark, config);
  }

  /** Checks that need no Spark: the tables are there (a local path), and the output is neither of them. */
  public static void check(JobConfig config) {
    String gen = config.string(ConfigKeys.CURATE_GENERATIONS);
    String scores = config.string(ConfigKeys.CURATE_SCORES);
    String out = config.string(ConfigKeys.OUTPUT_PATH);
    requireDelta(ConfigKeys.CURATE_GENERATIONS, gen);
    if (scores != null) {
      requireDelta(ConfigKeys.CURATE_SCORES, scores);
    }
    String input = config.string(ConfigKeys.CURATE_INPUT);
    File inputFile = input == null ? null : DeltaPaths.localFile(input);
    if (inputFile != null && !inputFile.exists()) {
      throw new ConfigException(ConfigKeys.CURATE_INPUT + ": " + input + " does not exist");
    }
    for (String[] k : List.of(new String[] {ConfigKeys.CURATE_GENERATIONS, gen}, new String[] {ConfigKeys.CURATE_SCORES, scores})) {
      if (k[1] != null && same(k[1], out)) {
        throw new ConfigException("output.path: the same table as " + k[0] + " (" + out + "); curate writes a new table");
      }
    }
  }

  private static void requireDelta(String key, String path) {
    File local = DeltaPaths.localFile(path);
    if (local != null && !new File(local, "_delta_log").isDirectory()) {
      throw new ConfigException(key + ": " + path + (local.exists() ? " is not a Delta table" : " does not exist"));
    }
  }

  private static boolean same(String a, String b) {
    File fa = DeltaPaths.localFile(a);
    File fb = DeltaPaths.localFile(b);
    return fa != null && fb != null ? fa.getAbsoluteFile().toPath().normalize().equals(fb.getAbsoluteFile().toPath().normalize())
        : a.equals(b);
  }

  public Result execute() {
    long t0 = System.nanoTime();
    check(config);
    String genPath = config.string(ConfigKeys.CURATE_GENERATIONS);
    String scoresPath = config.string(ConfigKeys.CURATE_SCORES);
    String output = config.string(ConfigKeys.OUTPUT_PATH);
    Dataset<Row> gen = asCandidates(spark.read().format("delta").load(genPath));
    checkSource(gen);
    long genVersion = version(genPath);
    Long scoresVersion = scoresPath != null ? version(scoresPath) : null;
    ObjectNode settings = settings();
    String configHash = sha256(settings.toString()).substring(0, 16);
    String runId = "curate-" + sha256(abs(genPath) + "@" + genVersion + "\u0000" + (scoresPath == null ? "" : abs(scoresPath) + "@"
        + scoresVersion) + "\u0000" + settings).substring(0, 16);

    RunTable table = RunTable.openOrCreate(spark, output, CuratedSchema.SPEC);
    if (!table.run(runId).isEmpty()) {
      // The same command again (same sources at the same versions, same settings): the run is there, nothing is written.
      Map<String, Long> byReason = counts(table.run(runId));
      return result(runId, output, byReason, false, t0);
    }
    Dataset<Row> curated = curate(gen, scoresPath == null ? null : spark.read().format("delta").load(scoresPath))
        .withColumn("run_id", lit(runId))
        .select(java.util.Arrays.stream(CuratedSchema.SCHEMA.fieldNames()).map(functions::col).toArray(Column[]::new))
        .persist(StorageLevel.MEMORY_AND_DISK());
    try {
      Map<String, Long> byReason = counts(curated);
      ObjectNode meta = JSON.createObjectNode();
      meta.put("job_kind", "curate");
      meta.put("jgen_version", dev.jgen.spark.JgenVersion.version());
      meta.put("run_id", runId);
      meta.put("attempt", 1);
      meta.put("chunk", 0);
      meta.put("config_hash", configHash);
      ObjectNode g = meta.putObject("generations");
      g.put("path", abs(genPath));
      g.put("version", genVersion);
      g.set("runs", sourceRuns(genPath, curated));
      if (scoresPath != null) {
        ObjectNode s = meta.putObject("scores");
        s.put("path", abs(scoresPath));
        s.put("version", scoresVersion);
      }
      meta.set("settings", settings);
      meta.set("counts", JSON.valueToTree(byReason));
      table.appendChunk(spark.createDataFrame(curated.rdd(), CuratedSchema.SCHEMA), runId, 1, 0, meta.toString());
      return result(runId, output, byReason, true, t0);
    } finally {
      curated.unpersist();
    }
  }

  private static Result result(String runId, String output, Map<String, Long> byReason, boolean written, long t0) {
    long kept = byReason.getOrDefault("kept", 0L);
    Map<String, Long> dropped = new LinkedHashMap<>();
    for (String r : CuratedSchema.REASONS) {
      dropped.put(r, byReason.getOrDefault(r, 0L));
    }
    long candidates = kept + dropped.values().stream().mapToLong(Long::longValue).sum();
    return new Result(runId, output, candidates, kept, dropped, written, (System.nanoTime() - t0) / 1e9);
  }

  /** Rows by drop reason ("kept" for kept rows). */
  static Map<String, Long> counts(Dataset<Row> curated) {
    Map<String, Long> m = new TreeMap<>();
    for (Row r : curated.groupBy(coalesce(col("drop_reason"), lit("kept")).as("r")).count().collectAsList()) {
      m.put(r.getString(0), r.getLong(1));
    }
    return m;
  }

  private ObjectNode settings() {
    ObjectNode s = JSON.createObjectNode();
    s.put("generations", abs(config.string(ConfigKeys.CURATE_GENERATIONS)));
    String scores = config.string(ConfigKeys.CURATE_SCORES);
    s.put("scores", scores == null ? null : abs(scores));
    String input = config.string(ConfigKeys.CURATE_INPUT);
    s.put("input", input == null ? null : abs(input));
    Double min = config.number(ConfigKeys.CURATE_MIN_SCORE);
    if (min == null) {
      s.putNull("min_score");
    } else {
      s.put("min_score", min);
    }
    s.put("best_of_n", config.bool(ConfigKeys.CURATE_BEST_OF_N));
    s.put("near_dup_threshold", config.number(ConfigKeys.CURATE_NEAR_DUP_THRESHOLD));
    s.put("ngram", config.integer(ConfigKeys.CURATE_NGRAM));
    s.put("lsh_bands", config.integer(ConfigKeys.CURATE_LSH_BANDS));
    s.put("lsh_rows", config.integer(ConfigKeys.CURATE_LSH_ROWS));
    s.put("dpo_min_margin", config.number(ConfigKeys.CURATE_DPO_MIN_MARGIN));
    return s;
  }

  /**
   * A magpie table in the shape curate reads: its {@code messages} end with the assistant's answer, which becomes
   * {@code output_text} (the conversation before it stays {@code messages}), its {@code answer_finish_reason} the
   * {@code finish_reason}, and the instruction the {@code prompt}. A generations table is returned as it is.
   */
  static Dataset<Row> asCandidates(Dataset<Row> gen) {
    List<String> have = List.of(gen.schema().fieldNames());
    if (have.contains("output_text") || !have.contains("messages")) {
      return gen;
    }
    Column last = functions.element_at(col("messages"), -1);
    Column answered = functions.size(col("messages")).gt(0).and(last.getField("role").equalTo(lit("assistant")));
    Dataset<Row> c = gen
        .withColumn("output_text", functions.when(answered, last.getField("content")))
        .withColumn("messages", functions.when(answered,
            functions.slice(col("messages"), lit(1), functions.size(col("messages")).minus(1))).otherwise(col("messages")));
    if (have.contains("answer_finish_reason") && !have.contains("finish_reason")) {
      c = c.withColumn("finish_reason", col("answer_finish_reason"));
    }
    if (!have.contains("prompt")) {
      c = c.withColumn("prompt", have.contains("instruction") ? col("instruction") : lit(null).cast(DataTypes.StringType));
    }
    return c;
  }

  /** A table of another kind is a config error naming the key, before anything is written. */
  private void checkSource(Dataset<Row> gen) {
    List<String> have = List.of(gen.schema().fieldNames());
    String gp = config.string(ConfigKeys.CURATE_GENERATIONS);
    String kind = lastJobKind(gp);
    if (kind != null && !SOURCE_KINDS.contains(kind)) {
      throw new ConfigException(ConfigKeys.CURATE_GENERATIONS + ": " + gp + " is a job.kind=" + kind + " table; curate reads "
          + "generations tables (job.kind=" + String.join(" or ", SOURCE_KINDS) + ")");
    }
    for (String c : NEEDED) {
      if (!have.contains(c)) {
        throw new ConfigException(ConfigKeys.CURATE_GENERATIONS + ": " + gp + " is not a jgen generations table (column '" + c
            + "' is missing)");
      }
    }
  }

  /** The job_kind of the table's latest commit that names one, or null. */
  private String lastJobKind(String path) {
    List<Row> rows = io.delta.tables.DeltaTable.forPath(spark, path).history(20).select("userMetadata")
        .where(col("userMetadata").isNotNull()).collectAsList();
    for (Row r : rows) {
      try {
        JsonNode n = JSON.readTree(r.getString(0));
        if (n.hasNonNull("job_kind")) {
          return n.get("job_kind").asText();
        }
      } catch (Exception e) {
        // not jgen's metadata
      }
    }
    return null;
  }

  private long version(String path) {
    return io.delta.tables.DeltaTable.forPath(spark, path).history(1).select("version").first().getLong(0);
  }

  /** The source runs curated, each with the config hash its commits recorded. */
  private ArrayNode sourceRuns(String genPath, Dataset<Row> curated) {
    List<String> runs = curated.select("source_run_id").distinct().orderBy("source_run_id").as(org.apache.spark.sql.Encoders.STRING())
        .collectAsList();
    Map<String, String> hashes = new TreeMap<>();
    for (Row r : io.delta.tables.DeltaTable.forPath(spark, genPath).history().select("userMetadata")
        .where(col("userMetadata").isNotNull()).collectAsList()) {
      try {
        JsonNode n = JSON.readTree(r.getString(0));
        if (n.hasNonNull("run_id") && n.hasNonNull("config_hash")) {
          hashes.putIfAbsent(n.get("run_id").asText(), n.get("config_hash").asText());
        }
      } catch (Exception e) {
        // not jgen's metadata
      }
    }
    ArrayNode a = JSON.createArrayNode();
    for (String run : runs) {
      ObjectNode o = a.addObject();
      o.put("run_id", run);
      o.put("config_hash", hashes.get(run));
    }
    return a;
  }

  /** The curated rows (every column but run_id), one per candidate. */
  Dataset<Row> curate(Dataset<Row> gen, Dataset<Row> scores) {
    List<String> have = List.of(gen.schema().fieldNames());
    var latest = Window.partitionBy("run_id", "row_key", "sample_index").orderBy(col("attempt").desc(), col("created_at").desc());
    Dataset<Row> c = gen.withColumn("_rank", functions.row_number().over(latest)).where(col("_rank").equalTo(1)).drop("_rank");

    // The conversation up to the answer, and its last user message (the instruction): from curate.input's row of the same
    // id where given (a generate table keeps only the rendered prompt), else from the generations' own columns.
    Column msgs;
    if (have.contains("messages")) {
      msgs = functions.expr("transform(messages, m -> named_struct('role', m.role, 'content', m.content))");
    } else {
      msgs = promptMessages(have, have.contains("instruction") ? col("instruction") : col("prompt"));
    }
    String inputPath = config.string(ConfigKeys.CURATE_INPUT);
    if (inputPath != null) {
      Dataset<Row> in = readInput(inputPath);
      List<String> ih = List.of(in.schema().fieldNames());
      Column inMsgs = ih.contains("prompt") ? promptMessages(ih, col("prompt")) : lit(null);
      if (ih.contains("messages")) {
        inMsgs = functions.coalesce(functions.expr("transform(messages, m -> named_struct('role', m.role, 'content', m.content))"),
            inMsgs);
      }
      if (!ih.contains("id")) {
        throw new ConfigException(ConfigKeys.CURATE_INPUT + ": " + inputPath + " has no id column");
      }
      in = in.select(col("id").cast(DataTypes.StringType).as("_in_id"), inMsgs.as("_in_messages")).dropDuplicates("_in_id");
      c = c.join(in, col("id").equalTo(col("_in_id")), "left");
      msgs = functions.coalesce(col("_in_messages"), msgs);
    }
    c = c.withColumn("messages", msgs)
        .withColumn("instruction", functions.expr("element_at(filter(messages, m -> m.role = 'user'), -1).content"));
    for (String opt : List.of("finish_reason", "model_id", "model_fingerprint", "template_sha256")) {
      if (!have.contains(opt)) {
        c = c.withColumn(opt, lit(null).cast(DataTypes.StringType));
      }
    }
    c = c.select(col("run_id").as("source_run_id"), col("id"), col("row_key"), col("sample_index"),
        col("attempt").as("source_attempt"), col("status"), col("instruction"), col("messages"), col("output_text"),
        col("finish_reason"), col("model_id"), col("model_fingerprint"), col("template_sha256"), col("created_at"));

    if (scores != null) {
      c = withScores(c, scores);
    } else {
      c = c.withColumn("score", lit(null).cast(DataTypes.DoubleType));
    }
    c = c.persist(StorageLevel.MEMORY_AND_DISK());

    // Stage 1-3: per candidate.
    Double min = config.number(ConfigKeys.CURATE_MIN_SCORE);
    Column reason = when(col("status").notEqual(lit("ok")).or(col("status").isNull()).or(col("output_text").isNull()), lit("error"));
    if (min != null) {
      reason = reason.when(col("score").isNull().or(col("score").lt(lit(min))), lit("below_min_score"));
    }
    c = c.withColumn("drop_reason", reason.otherwise(lit(null).cast(DataTypes.StringType)));
    if (config.bool(ConfigKeys.CURATE_BEST_OF_N)) {
      var best = Window.partitionBy("source_run_id", "row_key")
          .orderBy(col("drop_reason").isNotNull(), col("score").desc_nulls_last(), col("sample_index").asc());
      c = c.withColumn("_best", functions.row_number().over(best))
          .withColumn("drop_reason", when(col("drop_reason").isNull().and(col("_best").gt(1)), lit("not_best_of_n"))
              .otherwise(col("drop_reason")))
          .drop("_best");
    }

    // Stage 4-5: per id, over the ids that still have a candidate.
    Column order = struct(coalesce(col("id"), col("row_key")).as("k"), col("source_run_id"), col("row_key"));
    Dataset<Row> units = c.where(col("drop_reason").isNull())
        .select(col("source_run_id"), col("row_key"), col("id"), col("instruction")).distinct()
        .withColumn("_ord", order)
        .withColumn("_norm", functions.udf((UDF1<String, String>) s -> s == null ? "" : Texts.normalize(s), DataTypes.StringType)
            .apply(col("instruction")));
    var byText = Window.partitionBy("_norm").orderBy(col("_ord"));
    units = units.withColumn("_first", functions.first(col("_ord")).over(byText))
        .persist(StorageLevel.MEMORY_AND_DISK());
    Dataset<Row> exact = units.where(col("_ord").notEqual(col("_first")))
        .select(col("source_run_id"), col("row_key"), lit("exact_duplicate").as("u_reason"), col("_first.k").as("u_dup"),
            lit(1.0).as("u_sim"));
    Dataset<Row> unitReasons = exact;
    double threshold = config.number(ConfigKeys.CURATE_NEAR_DUP_THRESHOLD);
    if (threshold < 1.0) {
      unitReasons = unitReasons.unionByName(nearDuplicates(units.where(col("_ord").equalTo(col("_first"))), threshold));
    }
    // Renamed before the join: both sides derive from c, and Spark would read c.x = u.x as x = x.
    unitReasons = unitReasons.withColumnRenamed("source_run_id", "u_run").withColumnRenamed("row_key", "u_key");
    Dataset<Row> out = c.join(unitReasons, col("source_run_id").equalTo(col("u_run"))
            .and(col("row_key").equalTo(col("u_key"))).and(col("drop_reason").isNull()), "left")
        .drop("u_run", "u_key");
    return out.withColumn("drop_reason", coalesce(col("drop_reason"), col("u_reason")))
        .withColumn("duplicate_of", col("u_dup"))
        .withColumn("similarity", col("u_sim"))
        .withColumn("kept", col("drop_reason").isNull())
        .drop("u_reason", "u_dup", "u_sim");
  }

  /** [system (when the row has one), user: the text]. */
  private static Column promptMessages(List<String> have, Column text) {
    Column user = array(struct(lit("user").as("role"), text.cast(DataTypes.StringType).as("content")));
    if (!have.contains("system")) {
      return user;
    }
    return when(col("system").isNotNull(), array(struct(lit("system").as("role"), col("system").cast(DataTypes.StringType).as("content")),
        struct(lit("user").as("role"), text.cast(DataTypes.StringType).as("content")))).otherwise(user);
  }

  /** curate.input: JSONL, Parquet or Delta (a folder with _delta_log), as input.path is read. */
  private Dataset<Row> readInput(String path) {
    File local = DeltaPaths.localFile(path);
    if (local != null && new File(local, "_delta_log").isDirectory()) {
      return spark.read().format("delta").load(path);
    }
    return path.endsWith(".parquet") ? spark.read().parquet(path) : spark.read().json(path);
  }

  /**
   * Later ids whose instruction's n-grams are at least {@code threshold} Jaccard-similar to an earlier id's. MLlib's
   * {@code MinHashLSH} computes the signatures (curate.lsh_bands x curate.lsh_rows min-hashes); candidates are pairs that
   * agree on every min-hash of at least one band (banding: {@code approxSimilarityJoin} pairs any one agreeing min-hash,
   * which over Japanese text, whose common character n-grams make most instructions share some min-hash, compares a
   * large share of all pairs), and each candidate pair's exact Jaccard similarity of n-gram sets decides.
   */
  private Dataset<Row> nearDuplicates(Dataset<Row> firsts, double threshold) {
    int n = config.integer(ConfigKeys.CURATE_NGRAM);
    int bands = config.integer(ConfigKeys.CURATE_LSH_BANDS);
    int rowsPerBand = config.integer(ConfigKeys.CURATE_LSH_ROWS);
    Dataset<Row> shingled = firsts
        .withColumn("_grams", functions.udf((UDF1<String, List<String>>) s -> grams(s, n),
            DataTypes.createArrayType(DataTypes.StringType)).apply(col("_norm")))
        .where(functions.size(col("_grams")).gt(0))
        .select(col("source_run_id"), col("row_key"), col("_ord"), col("_grams"));
    HashingTF tf = new HashingTF().setInputCol("_grams").setOutputCol("_features").setNumFeatures(1 << 20).setBinary(true);
    MinHashLSHModel model = new MinHashLSH().setInputCol("_features").setOutputCol("_hashes")
        .setNumHashTables(bands * rowsPerBand).setSeed(27L).fit(tf.transform(shingled.limit(1)));
    Dataset<Row> hashed = model.transform(tf.transform(shingled))
        .withColumn("_bands", functions.udf((UDF1<scala.collection.Seq<org.apache.spark.ml.linalg.Vector>, List<String>>) hs -> {
          List<String> keys = new ArrayList<>(bands);
          StringBuilder b = new StringBuilder();
          for (int band = 0; band < bands; band++) {
            b.setLength(0);
            b.append(band);
            for (int r = 0; r < rowsPerBand; r++) {
              b.append(':').append((long) hs.apply(band * rowsPerBand + r).apply(0));
            }
            keys.add(b.toString());
          }
          return keys;
        }, DataTypes.createArrayType(DataTypes.StringType)).apply(col("_hashes")))
        .drop("_features", "_hashes")
        .persist(StorageLevel.MEMORY_AND_DISK());
    Dataset<Row> buckets = hashed.select(col("_ord"), functions.explode(col("_bands")).as("_band"));
    Dataset<Row> a = buckets.select(col("_ord").as("a_ord"), col("_band"));
    Dataset<Row> b = buckets.select(col("_ord").as("b_ord"), col("_band"));
    // Shuffle joins, never broadcast: Spark's size estimate of these sides (after explode, and of the n-gram arrays) can
    // be far below their size, and a broadcast of them ran a 4 GB heap out of memory at 200,000 candidates.
    Dataset<Row> pairs = a.join(b.hint("merge"), "_band").where(col("a_ord").gt(col("b_ord"))).select("a_ord", "b_ord").distinct();
    Dataset<Row> ga = hashed.select(col("_ord").as("a_ord"), col("source_run_id"), col("row_key"), col("_grams").as("a_grams"));
    Dataset<Row> gb = hashed.select(col("_ord").as("b_ord"), col("_grams").as("b_grams"));
    Dataset<Row> similar = pairs.join(ga.hint("merge"), "a_ord").join(gb.hint("merge"), "b_ord")
        .withColumn("_sim", functions.size(functions.array_intersect(col("a_grams"), col("b_grams"))).cast(DataTypes.DoubleType)
            .divide(functions.size(functions.array_union(col("a_grams"), col("b_grams")))))
        .where(col("_sim").geq(lit(threshold - 1e-9)));
    // The earliest similar id; the similarity to it.
    return similar.groupBy("source_run_id", "row_key")
        .agg(functions.min(struct(col("b_ord").as("o"), col("_sim").as("s"))).as("_nb"))
        .select(col("source_run_id"), col("row_key"), lit("near_duplicate").as("u_reason"), col("_nb.o.k").as("u_dup"),
            functions.round(col("_nb.s"), 6).as("u_sim"));
  }

  /** The distinct character n-grams of a text (the whole text when shorter than n). */
  static List<String> grams(String s, int n) {
    List<String> out = new ArrayList<>();
    if (s == null || s.isEmpty()) {
      return out;
    }
    int[] cps = s.codePoints().toArray();
    if (cps.length <= n) {
      out.add(s);
      return out;
    }
    java.util.Set<String> seen = new java.util.LinkedHashSet<>();
    for (int i = 0; i + n <= cps.length; i++) {
      seen.add(new String(cps, i, n));
    }
    out.addAll(seen);
    return out;
  }

  private Dataset<Row> withScores(Dataset<Row> c, Dataset<Row> scores) {
    List<String> have = List.of(scores.schema().fieldNames());
    String sp = config.string(ConfigKeys.CURATE_SCORES);
    String runCol = have.contains("source_run_id") ? "source_run_id" : "run_id";
    String keyCol = have.contains("row_key") ? "row_key" : "id";
    for (String need : List.of(runCol, keyCol, "sample_index", "score")) {
      if (!have.contains(need)) {
        throw new ConfigException(ConfigKeys.CURATE_SCORES + ": " + sp + " is not a scores table (column '" + need + "' is missing; "
            + "it needs source_run_id or run_id, row_key or id, sample_index, score)");
      }
    }
    Dataset<Row> s = scores;
    if (have.contains("attempt")) {
      var w = Window.partitionBy(runCol, keyCol, "sample_index").orderBy(col("attempt").desc());
      s = s.withColumn("_r", functions.dense_rank().over(w)).where(col("_r").equalTo(1));
    }
    Column score = col("score").cast(DataTypes.DoubleType);
    if (have.contains("status")) {
      score = when(col("status").equalTo(lit("ok")), score);
    }
    // A job.kind=score table keys its rows "<source run>/<source row_key>" (one table may score several runs): the
    // source row_key is what follows the run's prefix.
    Column key = when(col(keyCol).startsWith(functions.concat(col(runCol), lit("/"))),
        functions.expr("substring(" + keyCol + ", length(" + runCol + ") + 2)")).otherwise(col(keyCol));
    s = s.select(col(runCol).as("s_run"), key.as("s_key"), col("sample_index").cast(DataTypes.IntegerType).as("s_sample"),
            score.as("s_score"))
        .groupBy("s_run", "s_key", "s_sample").agg(functions.avg("s_score").as("s_score"));
    String cKey = keyCol.equals("row_key") ? "row_key" : "id";
    Column on = col("s_run").equalTo(c.col("source_run_id")).and(col("s_key").equalTo(c.col(cKey)))
        .and(col("s_sample").equalTo(c.col("sample_index")));
    // Scores of another generations table (or run) match no candidate: refused, naming the key.
    Dataset<Row> stray = s.join(c, on, "left_anti");
    List<Row> strays = stray.limit(3).collectAsList();
    if (!strays.isEmpty()) {
      long n = stray.count();
      long total = s.count();
      List<String> runs = c.select("source_run_id").distinct().limit(5).as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
      Row r = strays.get(0);
      throw new ConfigException(ConfigKeys.CURATE_SCORES + ": " + sp + ": " + n + " of " + total + " scores match no candidate of "
          + ConfigKeys.CURATE_GENERATIONS + " (e.g. run " + r.get(0) + ", " + keyCol + " " + r.get(1) + ", sample " + r.get(2)
          + "; the generations hold runs " + String.join(", ", runs) + "): the scores are of another generations table or run");
    }
    return c.join(s, on, "left").withColumn("score", col("s_score")).drop("s_run", "s_key", "s_sample", "s_score");
  }

  private static String abs(String path) {
    File local = DeltaPaths.localFile(path);
    return local != null ? local.getAbsoluteFile().toPath().normalize().toString() : path;
  }

  static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
