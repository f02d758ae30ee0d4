package dev.jgen.curate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigLoader;
import dev.jgen.config.JobConfig;
import dev.jgen.curate.CurateFixtures.Cand;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** job.kind=curate on tables made with Spark: planted duplicates, scores, bad input, a second run of the same command. */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class CurateTest {
  @TempDir Path dir;

  /** 30 ids x 2 samples; q005 and q009 near duplicates of q002 (one, two characters), q012 and q015 exact of q003. */
  static List<Cand> planted() {
    List<Cand> c = new ArrayList<>();
    String q2 = CurateFixtures.instruction(2, 80);
    String q3 = CurateFixtures.instruction(3, 80);
    for (int i = 1; i <= 30; i++) {
      String id = String.format("q%03d", i);
      String text = switch (i) {
        case 5 -> CurateFixtures.change(q2, 40);
        case 9 -> CurateFixtures.change(q2, 20, 50);
        case 12 -> q3;
        case 15 -> "\u3000 " + q3.replace("。", "\uFF61") + " \n"; // the same after NFKC (halfwidth stop) and trimming
        default -> CurateFixtures.instruction(i, 80);
      };
      for (int s = 0; s < 2; s++) {
        boolean failed = i == 20 || i == 21 && s == 1;
        c.add(new Cand(id, s, text, failed ? "error" : "ok", failed ? null : "答え " + id + "/" + s));
      }
    }
    return c;
  }

  static JobConfig config(Path out, Path gen, Path scores, String... sets) {
    List<String> s = new ArrayList<>(List.of("job.kind=curate", "curate.generations=" + gen, "output.path=" + out));
    if (scores != null) {
      s.add("curate.scores=" + scores);
    }
    s.addAll(List.of(sets));
    return ConfigLoader.load(null, s);
  }

  @Test
  void plantedDuplicatesAreDroppedNamingTheFirstAndEveryCandidateStays() throws Exception {
    SparkSession spark = TestSpark.get();
    Path gen = dir.resolve("gen");
    Path out = dir.resolve("curated");
    CurateFixtures.generations(spark, gen.toString(), "run-a", planted());
    Path yaml = dir.resolve("curate.yaml");
    Files.writeString(yaml, "job:\n  kind: curate\ncurate:\n  generations: " + gen + "\noutput:\n  path: " + out + "\n");

    Cli r = Cli.run("generate", "--config", yaml.toString());
    assertEquals(0, r.code(), r.err() + r.out());
    JsonNode sum = r.summary();
    assertEquals(60, sum.get("rows_in").asLong());
    JsonNode reasons = sum.get("drop_reasons");
    assertEquals(2 * 2, reasons.get("near_duplicate").asLong(), r.out());
    assertEquals(2 * 2, reasons.get("exact_duplicate").asLong(), r.out());
    assertEquals(3, reasons.get("error").asLong());
    assertEquals(0, reasons.get("below_min_score").asLong());
    assertEquals(0, reasons.get("not_best_of_n").asLong());
    long dropped = 0;
    for (JsonNode n : reasons) {
      dropped += n.asLong();
    }
    assertEquals(60, sum.get("kept").asLong() + dropped, "candidates in = kept + dropped per reason");
    assertEquals(60 - 11, sum.get("kept").asLong());

    List<Row> rows = spark.read().format("delta").load(out.toString()).collectAsList();
    assertEquals(60, rows.size(), "rows never vanish");
    Map<String, String> dupOf = new TreeMap<>();
    Map<String, String> reasonOf = new TreeMap<>();
    for (Row row : rows) {
      String id = row.getAs("id");
      String reason = row.getAs("drop_reason");
      assertEquals(reason == null, row.<Boolean>getAs("kept"));
      if (reason != null && reason.endsWith("duplicate")) {
        dupOf.put(id, reason + " of " + row.getAs("duplicate_of"));
        double sim = row.<Double>getAs("similarity");
        assertTrue(sim >= 0.8 && sim <= 1.0, id + " similarity " + sim);
        if (reason.equals("exact_duplicate")) {
          assertEquals(1.0, sim);
        }
      }
      reasonOf.merge(id, String.valueOf(reason), (a, b) -> a.equals("null") || b.equals("null") ? "null" : a); // "null": a sample kept
    }
    assertEquals(Map.of("q005", "near_duplicate of q002", "q009", "near_duplicate of q002", "q012", "exact_duplicate of q003",
        "q015", "exact_duplicate of q003"), dupOf);
    assertEquals("null", reasonOf.get("q002"), "the first of a cluster is kept");
    assertEquals("null", reasonOf.get("q003"));
    assertEquals("error", reasonOf.get("q020"));
    assertEquals("null", reasonOf.get("q021"), "q021 keeps its ok sample");

    // The same command again: the run is there, nothing is written (one Delta commit in all).
    long versions = io.delta.tables.DeltaTable.forPath(spark, out.toString()).history().count();
    Cli again = Cli.run("generate", "--config", yaml.toString());
    assertEquals(0, again.code(), again.err());
    assertFalse(again.summary().get("written").asBoolean());
    assertEquals(sum.get("run_id"), again.summary().get("run_id"));
    assertEquals(sum.get("drop_reasons"), again.summary().get("drop_reasons"));
    assertEquals(versions, io.delta.tables.DeltaTable.forPath(spark, out.toString()).history().count());
    assertEquals(60, spark.read().format("delta").load(out.toString()).count());
  }

  @Test
  void scoresPickTheBestSampleAndDropLowOnes() {
    SparkSession spark = TestSpark.get();
    Path gen = dir.resolve("gen");
    Path scores = dir.resolve("scores");
    List<Cand> c = new ArrayList<>();
    List<Object[]> s = new ArrayList<>();
    for (int i = 1; i <= 6; i++) {
      String id = "p" + i;
      for (int k = 0; k < 3; k++) {
        c.add(new Cand(id, k, CurateFixtures.instruction(100 + i, 60), "ok", "out " + id + "/" + k));
        // p1: 3,5,5 (tie: sample 1 wins); p2: 8,2,6; p3..p5: 1,2,3; p6: 2,3 and an unscored sample
        double score = i == 1 ? new double[] {3, 5, 5}[k] : i == 2 ? new double[] {8, 2, 6}[k] : i == 6 ? k + 2 : k + 1;
        if (!(i == 6 && k == 2)) {
          s.add(new Object[] {id, k, score});
        }
      }
    }
    CurateFixtures.generations(spark, gen.toString(), "run-s", c);
    CurateFixtures.scores(spark, scores.toString(), "run-s", s);
    Path out = dir.resolve("curated");
    CurateJob.Result r = CurateJob.of(spark, config(out, gen, scores, "curate.best_of_n=true", "curate.min_score=2.5")).execute();
    assertEquals(18, r.candidates());
    Map<String, Integer> best = new TreeMap<>();
    for (Row row : spark.read().format("delta").load(out.toString()).where("kept").collectAsList()) {
      best.put(row.getAs("id"), row.getAs("sample_index"));
    }
    assertEquals(Map.of("p1", 1, "p2", 0, "p3", 2, "p4", 2, "p5", 2, "p6", 1), best);
    // below 2.5: p2/1 (2); p3-p5 samples 0, 1 (1, 2); p6/0 (2) and p6/2 (unscored)
    assertEquals(1 + 3 * 2 + 2, r.dropped().get("below_min_score"));
    assertEquals(18 - 6 - 9, r.dropped().get("not_best_of_n"));
    assertEquals(18, r.kept() + r.droppedTotal());
  }

  @Test
  void scoresOfAnotherTableOrATableOfAnotherKindAreConfigErrorsNamingTheKey() {
    SparkSession spark = TestSpark.get();
    Path gen = dir.resolve("gen");
    Path scores = dir.resolve("scores");
    CurateFixtures.generations(spark, gen.toString(), "run-x", List.of(new Cand("a", 0, "質問です", "ok", "答え")));
    CurateFixtures.scores(spark, scores.toString(), "run-other", List.<Object[]>of(new Object[] {"a", 0, 5.0}));
    ConfigException e = assertThrows(ConfigException.class,
        () -> CurateJob.of(spark, config(dir.resolve("o1"), gen, scores, "curate.best_of_n=true")).execute());
    assertTrue(e.getMessage().startsWith("curate.scores: "), e.getMessage());
    assertTrue(e.getMessage().contains("run-other") && e.getMessage().contains("run-x"), e.getMessage());

    // A scores table given as the generations: not a generations table.
    ConfigException k = assertThrows(ConfigException.class,
        () -> CurateJob.of(spark, config(dir.resolve("o2"), scores, null)).execute());
    assertTrue(k.getMessage().startsWith("curate.generations: "), k.getMessage());

    // A table whose commits say another kind (an MT-Bench answers table).
    Path mt = dir.resolve("mt");
    spark.range(1).selectExpr("'r' AS run_id").write().format("delta").option("userMetadata", "{\"job_kind\":\"mtbench\"}")
        .save(mt.toString());
    ConfigException m = assertThrows(ConfigException.class, () -> CurateJob.of(spark, config(dir.resolve("o3"), mt, null)).execute());
    assertTrue(m.getMessage().contains("job.kind=mtbench"), m.getMessage());

    // Before Spark: a missing table, best_of_n without scores.
    Cli missing = Cli.run("generate", "--set", "job.kind=curate", "--set", "curate.generations=" + dir.resolve("nope"), "--set",
        "output.path=" + dir.resolve("o4"), "--config", writeEmpty());
    assertEquals(2, missing.code());
    assertTrue(missing.err().contains("config error: curate.generations: "), missing.err());
    ConfigException b = assertThrows(ConfigException.class, () -> config(dir.resolve("o5"), gen, null, "curate.best_of_n=true"));
    assertTrue(b.getMessage().startsWith("curate.best_of_n: "), b.getMessage());
  }

  @Test
  void inputRowsGiveTheConversationInsteadOfTheRenderedPrompt() throws Exception {
    SparkSession spark = TestSpark.get();
    Path gen = dir.resolve("gen");
    CurateFixtures.generations(spark, gen.toString(), "run-i", List.of(
        new Cand("a", 0, "<|system|>あなたは親切です<|user|>こんにちは<|assistant|>", "ok", "どうも"),
        new Cand("b", 0, "<|user|>入力にない行<|assistant|>", "ok", "はい")));
    Path input = dir.resolve("input.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"こんにちは\", \"system\": \"あなたは親切です\"}\n");
    Path out = dir.resolve("curated");
    CurateJob.of(spark, config(out, gen, null, "curate.input=" + input)).execute();
    Map<String, String> instr = new TreeMap<>();
    for (Row r : spark.read().format("delta").load(out.toString()).collectAsList()) {
      instr.put(r.getAs("id"), r.<String>getAs("instruction") + " / " + r.getList(r.fieldIndex("messages")).size());
    }
    assertEquals(Map.of("a", "こんにちは / 2", "b", "<|user|>入力にない行<|assistant|> / 1"), instr);
    Path to = dir.resolve("sft");
    Cli r = Cli.run("export", "sft", "--output", out.toString(), "--to", to.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals("{\"messages\":[{\"role\":\"system\",\"content\":\"あなたは親切です\"},{\"role\":\"user\",\"content\":\"こんにちは\"},"
        + "{\"role\":\"assistant\",\"content\":\"どうも\"}]}", Files.readAllLines(to.resolve("train.jsonl")).get(0));
  }

  @Test
  void theShippedConfigLoads() {
    JobConfig c = ConfigLoader.load(Path.of("../conf/jobs/curate.yaml"), List.of());
    assertEquals("curate", c.string("job.kind"));
    assertEquals(0.8, c.number("curate.near_dup_threshold"));
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.load(Path.of("../conf/jobs/curate.yaml"), List.of("model.id=tiny-llama-ja")));
    assertTrue(e.getMessage().startsWith("model.id: "), e.getMessage());
  }

  private String writeEmpty() {
    try {
      Path p = dir.resolve("empty.yaml");
      Files.writeString(p, "{}\n");
      return p.toString();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
