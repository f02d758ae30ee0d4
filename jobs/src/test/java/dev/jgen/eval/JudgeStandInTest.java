package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.testing.ChildJob;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import dev.jgen.testing.djl.DjlServingStandIn;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A DJL Serving stand-in plays the judge: it answers each judge prompt in Japanese with the rating the judged answer
 * asks for through a marker (《n》: "評価: [[n]]"; 〔n〕: only the backup "[n]"; no marker: no rating at all). The
 * scores in the table are then what FastChat's parse gives; bad answers are error rows naming their question; a SIGKILL
 * of the judge job and the same command again judge everything exactly once; `export judgment` read back with
 * show_result.py's averaging equals `jgen scores`.
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class JudgeStandInTest {
  @TempDir Path dir;

  private static final Pattern MARKER = Pattern.compile("《([0-9.]+)》|〔([0-9.]+)〕");
  private static final String[] CATEGORIES = {"writing", "math", "roleplay", "reasoning"};

  /**
   * The judge: rates the marker of the judged answer, the last assistant answer of the (Japanese default) prompt; a
   * turn-2 prompt also holds turn 1's answer, whose marker must not count.
   */
  static String judge(String prompt) {
    int at = Math.max(prompt.lastIndexOf("### アシスタント:"), prompt.lastIndexOf("[アシスタントの回答の開始]"));
    Matcher m = MARKER.matcher(prompt.substring(Math.max(0, at)));
    String primary = null;
    String backup = null;
    while (m.find()) {
      primary = m.group(1);
      backup = m.group(2);
    }
    if (primary != null) {
      return "回答は質問に沿っており、説明も丁寧です。評価: [[" + primary + "]]";
    }
    if (backup != null) {
      return "おおむね正しいが、少し説明が足りません。評価は [" + backup + "] とします。";
    }
    return "この回答は評価できません。";
  }

  /** The rating the marker of (question, model, turn) asks for: "《7》", "〔4.5〕" or "" (then -1 is expected). */
  static String marker(int q, int m, int turn) {
    int kind = (q + m + turn) % 3;
    String score = (1 + (q * 3 + m + turn) % 10) + (q % 4 == 0 ? ".5" : "");
    return kind == 0 ? "《" + score + "》" : kind == 1 ? "〔" + score + "〕" : "";
  }

  static double expected(int q, int m, int turn) {
    String mk = marker(q, m, turn);
    return mk.isEmpty() ? -1 : Double.parseDouble(mk.substring(1, mk.length() - 1));
  }

  private Path questions(int n) {
    List<String> lines = new ArrayList<>();
    for (int q = 1; q <= n; q++) {
      lines.add("{\"question_id\": " + q + ", \"category\": \"" + CATEGORIES[q % 4] + "\", \"turns\": [\"質問" + q
          + "の一つ目です。\", \"質問" + q + "の二つ目です。\"]}");
    }
    return TestFiles.jsonl(dir, "question.jsonl", lines);
  }

  /** References for every math and reasoning question up to n (FastChat reference_answer format). */
  private Path references(int n) {
    List<String> lines = new ArrayList<>();
    for (int q = 1; q <= n; q++) {
      if (CATEGORIES[q % 4].equals("math") || CATEGORIES[q % 4].equals("reasoning")) {
        lines.add("{\"question_id\": " + q + ", \"model_id\": \"ref\", \"choices\": [{\"index\": 0, \"turns\": [\"参考" + q
            + "の一\", \"参考" + q + "の二\"]}]}");
      }
    }
    return TestFiles.jsonl(dir, "reference.jsonl", lines);
  }

  static String answer(int q, int m, String... turns) {
    StringBuilder t = new StringBuilder();
    for (int i = 0; i < turns.length; i++) {
      t.append(i > 0 ? ", " : "").append('"').append(turns[i]).append('"');
    }
    return "{\"question_id\": " + q + ", \"answer_id\": \"a" + q + "m" + m + "\", \"model_id\": \"x\", \"choices\": [{\"index\": 0, "
        + "\"turns\": [" + t + "]}], \"tstamp\": 1.0}";
  }

  /** FastChat's model_answer folder: model-a.jsonl and model-b.jsonl, answers carrying their markers. */
  private Path answers(int n, List<String> extraA, List<String> extraB) {
    Path folder = dir.resolve("model_answer");
    for (int m = 0; m < 2; m++) {
      List<String> lines = new ArrayList<>();
      for (int q = 1; q <= n; q++) {
        lines.add(answer(q, m, "回答" + q + "の一" + marker(q, m, 1), "回答" + q + "の二" + marker(q, m, 2)));
      }
      lines.addAll(m == 0 ? extraA : extraB);
      TestFiles.jsonl(folder, m == 0 ? "model-a.jsonl" : "model-b.jsonl", lines);
    }
    return folder;
  }

  private static DjlServingStandIn judgeServer(long stepMillis) throws Exception {
    DjlServingStandIn.Options o = new DjlServingStandIn.Options();
    o.batch = 4;
    o.stepMillis = stepMillis;
    o.responder = JudgeStandInTest::judge;
    return DjlServingStandIn.start(o);
  }

  private static List<String> args(Path answers, Path questions, Path refs, Path out, DjlServingStandIn s, String... extra) {
    List<String> a = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/judge.yaml").toString()));
    for (String x : new String[] {"input.path=" + answers, "output.path=" + out, "judge.questions=" + questions,
        "judge.references=" + (refs == null ? "" : refs), "judge.model.id=llm-jp-3-1.8b-instruct",
        "judge.model.path=" + EvalTesting.weights(), "judge.name=standin-judge", "engine.kind=djl-serving",
        "engine.djl.endpoints=" + s.url(), "engine.djl.max_rolling_batch_size=4", "engine.ctx_size=2048",
        "generation.max_new_tokens=64"}) {
      a.add("--set");
      a.add(x);
    }
    for (String x : extra) {
      a.add("--set");
      a.add(x);
    }
    return a;
  }

  @Test
  void ratingsAreParsedAsFastChatParsesThemAndBadAnswersAreErrorRowsNamingTheQuestion() throws Exception {
    int n = 12;
    Path q = questions(n);
    // Question 13 (math) is asked but has no reference; 999 is no question at all; model-b answers 3 with one turn, and
    // answers 1 twice.
    List<String> qs = new ArrayList<>(Files.readAllLines(q));
    qs.add("{\"question_id\": 13, \"category\": \"math\", \"turns\": [\"質問13の一つ目\", \"質問13の二つ目\"]}");
    Files.write(q, qs);
    Path answers = answers(n, List.of(answer(13, 0, "回答《5》", "回答《6》"), answer(999, 0, "迷子の回答", "続き")),
        List.of(answer(13, 1, "回答《5》", "回答《6》"), answer(1, 1, "二度目《9》", "二度目《9》")));
    List<String> b = new ArrayList<>(Files.readAllLines(answers.resolve("model-b.jsonl")));
    b.set(2, answer(3, 1, "一ターンだけ《5》"));
    b.remove(n - 1); // model-b does not answer question 12 at all
    Files.write(answers.resolve("model-b.jsonl"), b);
    Path out = dir.resolve("judgments");
    try (DjlServingStandIn s = judgeServer(2)) {
      Cli r = Cli.run(args(answers, q, references(n), out, s).toArray(String[]::new));
      assertEquals(0, r.code(), r.err());
      JsonNode sum = r.summary();
      // model-a: 12 questions + 13 + 999; model-b: 11 (3 with one turn, 1 twice) + 13 + the missing 12; two judgments
      // per answer.
      long rowsIn = 2 * (n + 2) + 2 * (n + 2);
      assertEquals(rowsIn, sum.get("rows_in").asLong(), r.out());
      assertEquals(sum.get("rows_in").asLong(), sum.get("ok").asLong() + sum.get("error").asLong(), "rows in = ok + error");
      assertEquals(2 * n + 2 * (n - 2), sum.get("ok").asLong(), r.out());

      Dataset<Row> all = TestSpark.get().read().format("delta").load(out.toString());
      assertEquals(rowsIn, all.count());
      Map<String, String> errors = new TreeMap<>();
      int minus1 = 0;
      for (Row row : all.collectAsList()) {
        String qid = row.getAs("question_id");
        String model = row.getAs("model");
        int turn = row.getAs("turn");
        if ("error".equals(row.getAs("status"))) {
          errors.put(model + "/" + qid + "/" + turn + "/" + row.getAs("row_key"), row.getAs("error"));
          assertNull(row.getAs("score"));
          continue;
        }
        int m = model.equals("model-a") ? 0 : 1;
        int qn = Integer.parseInt(qid);
        double want = expected(qn, m, turn);
        assertEquals(want, (Double) row.getAs("score"), "score of " + model + " q" + qid + " turn " + turn + ": " + row.getAs("judgment"));
        minus1 += want == -1 ? 1 : 0;
        boolean ref = CATEGORIES[qn % 4].equals("math") || CATEGORIES[qn % 4].equals("reasoning");
        assertEquals((ref ? "single-math-v1" : "single-v1") + (turn == 2 ? "-multi-turn" : ""), row.getAs("prompt_name"));
        assertEquals("standin-judge", row.getAs("judge"));
        String user = row.getAs("user_prompt");
        assertTrue(user.contains("質問" + qid + "の一つ目です。"), user);
        assertTrue(turn == 1 ? !user.contains("質問" + qid + "の二つ目です。") : user.contains("質問" + qid + "の二つ目です。"), user);
        assertTrue(!ref || user.contains("参考" + qid + "の" + (turn == 1 ? "一" : "二")), "the reference is in the prompt: " + user);
        assertTrue(((String) row.getAs("prompt")).contains(user.substring(0, 20)), "rendered with the judge's template");
        assertEquals("eos", ((String) row.getAs("finish_reason")).replace("stop", "eos"));
      }
      assertTrue(minus1 > 0, "some judgments have no rating");
      assertTrue(all.where("status = 'ok' AND judgment LIKE '%評価は [%'").count() > 0, "some have only the backup pattern");
      assertEquals(12, errors.size(), errors.toString());
      assertTrue(errors.entrySet().stream().filter(e -> e.getKey().startsWith("model-b/12/")).allMatch(e -> e.getValue()
          .contains("question 12") && e.getValue().contains("no answer")), errors.toString());
      assertTrue(errors.entrySet().stream().filter(e -> e.getKey().contains("/999/")).allMatch(e -> e.getValue().contains("question 999")
          && e.getValue().contains("no such question")), errors.toString());
      assertTrue(errors.entrySet().stream().filter(e -> e.getKey().contains("/13/")).allMatch(e -> e.getValue().contains("question 13")
          && e.getValue().contains("no reference answer")), errors.toString());
      assertTrue(errors.entrySet().stream().filter(e -> e.getKey().startsWith("model-b/3/")).allMatch(e -> e.getValue()
          .contains("question 3") && e.getValue().contains("has 1 turn(s), the question has 2")), errors.toString());
      assertTrue(errors.entrySet().stream().filter(e -> e.getKey().startsWith("model-b/1/")).allMatch(e -> e.getValue()
          .contains("question 1") && e.getValue().contains("second answer")), errors.toString());

      // `jgen show` and `jgen runs` read the judgments table.
      Cli show = Cli.run("show", "--output", out.toString(), "--status", "error", "--limit", "50");
      assertEquals(0, show.code(), show.err());
      assertTrue(show.out().contains("question 999"), show.out());
      Cli runs = Cli.run("runs", "--output", out.toString());
      assertEquals(0, runs.code(), runs.err());
      assertTrue(runs.out().contains("MT-Bench judgments"), runs.out());
    }
  }

  @Test
  void aKilledJudgeJobResumesExactlyOnceAndTheExportAveragesAsJgenScores() throws Exception {
    int n = 20;
    Path q = questions(n);
    Path refs = references(n);
    Path answers = answers(n, List.of(), List.of());
    Path out = dir.resolve("judgments");
    long total = 2L * n * 2;
    try (DjlServingStandIn s = judgeServer(10)) {
      String[] args = args(answers, q, refs, out, s, "job.chunk_rows=4").toArray(String[]::new);
      Process child = ChildJob.start(dir.resolve("child.log"), args);
      Path firstChunk = out.resolve("_delta_log").resolve("00000000000000000001.json");
      long deadline = System.currentTimeMillis() + 240_000;
      while (!Files.exists(firstChunk) && child.isAlive() && System.currentTimeMillis() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(Files.exists(firstChunk), "the child committed a chunk: " + Files.readString(dir.resolve("child.log")));
      child.destroyForcibly();
      assertTrue(child.waitFor(30, TimeUnit.SECONDS));
      long committed = TestSpark.get().read().format("delta").load(out.toString()).count();
      assertTrue(committed > 0 && committed < total, "killed mid-run, after " + committed + " of " + total);

      Cli r = Cli.run(args);
      assertEquals(0, r.code(), r.err());
      assertEquals(total, r.summary().get("ok").asLong(), r.out());
      Dataset<Row> all = TestSpark.get().read().format("delta").load(out.toString());
      assertEquals(total, all.count(), "exactly one row per judgment: nothing judged twice");
      assertEquals(total, all.select("row_key", "turn").distinct().count());
      assertEquals(committed, all.where("attempt = 1").count(), "the first attempt's rows stay as they were");
      assertEquals(total - committed, all.where("attempt = 2").count());
      String runId = r.summary().get("run_id").asText();

      Cli export = Cli.run("export", "judgment", "--output", out.toString(), "--to", dir.resolve("bench").toString());
      assertEquals(0, export.code(), export.err());
      Path file = dir.resolve("bench/model_judgment/standin-judge_single.jsonl");
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      assertEquals(total, lines.size());
      // show_result.py --mode single, by hand: drop score == -1, mean per (model, turn) and per model.
      ObjectMapper json = new ObjectMapper();
      Map<String, double[]> perModel = new HashMap<>();
      Map<String, double[]> perTurn = new HashMap<>();
      for (String line : lines) {
        JsonNode o = json.readTree(line);
        assertEquals(List.of("question_id", "model", "judge", "user_prompt", "judgment", "score", "turn", "tstamp"),
            iterator(o.fieldNames()));
        assertTrue(o.get("question_id").isInt() && o.get("turn").isInt() && o.get("tstamp").isDouble(), line);
        assertEquals("standin-judge", o.get("judge").get(0).asText());
        assertTrue(o.get("judge").get(1).asText().startsWith("single-"), line);
        int m = o.get("model").asText().equals("model-a") ? 0 : 1;
        double want = expected(o.get("question_id").asInt(), m, o.get("turn").asInt());
        assertEquals(want, o.get("score").asDouble(), line);
        // ast.literal_eval gives an int for "7", a float for "7.5": json.dumps writes 7 and 7.5.
        assertEquals(want == Math.rint(want), o.get("score").isIntegralNumber(), line);
        assertTrue(line.contains("\"score\": ") && line.chars().allMatch(c -> c < 128), "json.dumps: ASCII, ': ' separators");
        if (o.get("score").asDouble() == -1) {
          continue;
        }
        add(perModel, o.get("model").asText(), o.get("score").asDouble());
        add(perTurn, o.get("model").asText() + "#" + o.get("turn").asInt(), o.get("score").asDouble());
      }
      for (String[] source : List.of(new String[] {"--output", out.toString(), "--run", runId},
          new String[] {"--judgments", file.toString()})) {
        List<String> a = new ArrayList<>(List.of("scores", "--format", "json"));
        a.addAll(List.of(source));
        Cli sc = Cli.run(a.toArray(String[]::new));
        assertEquals(0, sc.code(), sc.err());
        JsonNode models = json.readTree(sc.out()).get("models");
        assertEquals(perModel.keySet(), iteratorSet(models.fieldNames()));
        for (String model : perModel.keySet()) {
          JsonNode x = models.get(model);
          assertEquals(mean(perModel.get(model)), x.get("average").get("mean").asDouble(), 1e-9, String.join(" ", source));
          assertEquals(mean(perTurn.get(model + "#1")), x.get("turn_1").get("mean").asDouble(), 1e-9);
          assertEquals(mean(perTurn.get(model + "#2")), x.get("turn_2").get("mean").asDouble(), 1e-9);
          assertEquals(2L * n - (long) perModel.get(model)[1], x.get("failed").asLong(), "the -1 judgments are counted");
        }
      }
    }
  }

  private static void add(Map<String, double[]> m, String key, double v) {
    double[] a = m.computeIfAbsent(key, k -> new double[2]);
    a[0] += v;
    a[1]++;
  }

  private static double mean(double[] a) {
    return a[0] / a[1];
  }

  private static List<String> iterator(java.util.Iterator<String> it) {
    List<String> out = new ArrayList<>();
    it.forEachRemaining(out::add);
    return out;
  }

  private static java.util.Set<String> iteratorSet(java.util.Iterator<String> it) {
    return new java.util.HashSet<>(iterator(it));
  }
}
