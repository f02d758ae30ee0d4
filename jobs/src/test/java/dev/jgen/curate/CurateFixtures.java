package dev.jgen.curate;

import dev.jgen.delta.OutputSchema;
import dev.jgen.delta.RunTable;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** Generations and scores tables made directly with Spark, in the generations table's schema: no engine needed. */
public final class CurateFixtures {
  /** One candidate: a (row, sample) of a generations run. */
  public record Cand(String id, int sample, String instruction, String status, String output) {}

  /** The scores table's columns as curate reads them. */
  public static final StructType SCORES = new StructType()
      .add("run_id", DataTypes.StringType, false)
      .add("row_key", DataTypes.StringType, false)
      .add("id", DataTypes.StringType)
      .add("sample_index", DataTypes.IntegerType, false)
      .add("score", DataTypes.DoubleType);

  private static final String ALPHABET = "日本語の文章を作成してくださいあいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
      + "東京大阪京都名古屋札幌福岡神戸横浜仙台広島春夏秋冬山川海空雨雪風花鳥月星光影音声言葉説明理由方法手順例題答問題計算歴史科学"
      + "経済文化社会政治教育医療技術情報料理旅行映画音楽絵画写真";

  private CurateFixtures() {}

  /** A Japanese-looking instruction of {@code length} characters, the same for the same seed, unrelated to other seeds. */
  public static String instruction(long seed, int length) {
    Random r = new Random(seed * 7919 + 17);
    StringBuilder b = new StringBuilder();
    int[] cps = ALPHABET.codePoints().toArray();
    while (b.length() < length - 7) {
      b.appendCodePoint(cps[r.nextInt(cps.length)]);
    }
    return b.append("してください。").toString();
  }

  /** The text with the characters at the given positions replaced. */
  public static String change(String s, int... positions) {
    char[] c = s.toCharArray();
    for (int p : positions) {
      c[p] = c[p] == 'Ｘ' ? 'Ｙ' : 'Ｘ';
    }
    return new String(c);
  }

  public static void generations(SparkSession spark, String path, String runId, List<Cand> cands) {
    RunTable t = RunTable.openOrCreate(spark, path, OutputSchema.SPEC);
    List<Row> rows = new ArrayList<>();
    String[] names = OutputSchema.SCHEMA.fieldNames();
    long input = 0;
    String last = null;
    for (Cand c : cands) {
      if (!c.id().equals(last)) {
        input++;
        last = c.id();
      }
      Object[] v = new Object[names.length];
      Map<String, Object> m = new java.util.HashMap<>();
      m.put("run_id", runId);
      m.put("id", c.id());
      m.put("sample_index", c.sample());
      m.put("row_key", c.id());
      m.put("input_row", input);
      m.put("attempt", 1);
      m.put("status", c.status());
      m.put("error", c.status().equals("ok") ? null : "engine failed");
      m.put("model_id", "tiny-ja");
      m.put("model_fingerprint", "sha256:feedbeef");
      m.put("template_sha256", "abc123");
      m.put("prompt", c.instruction());
      m.put("output_text", c.output());
      m.put("finish_reason", c.output() == null ? null : "stop");
      m.put("created_at", new Timestamp(1_700_000_000_000L));
      for (int i = 0; i < names.length; i++) {
        v[i] = m.get(names[i]);
      }
      rows.add(RowFactory.create(v));
    }
    t.appendChunk(spark.createDataFrame(rows, OutputSchema.SCHEMA), runId, 1, 0,
        "{\"job_kind\":\"generate\",\"run_id\":\"" + runId + "\",\"config_hash\":\"cfg-" + runId + "\"}");
  }

  /** Scores: (id, sample, score) of run {@code runId}. */
  public static void scores(SparkSession spark, String path, String runId, List<Object[]> scores) {
    List<Row> rows = new ArrayList<>();
    for (Object[] s : scores) {
      rows.add(RowFactory.create(runId, s[0], s[0], s[1], s[2]));
    }
    spark.createDataFrame(rows, SCORES).write().format("delta").mode("append").save(path);
  }
}
