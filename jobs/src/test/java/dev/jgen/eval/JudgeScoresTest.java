package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `jgen scores` on hand-made FastChat judgment files whose averages are worked out below: per model, per turn, per
 * category, normalised, over two judge runs with their spread; -1 ratings counted and left out as show_result.py does.
 */
class JudgeScoresTest {
  @TempDir Path dir;

  private static final double EPS = 1e-9;

  /** question 1 is writing, question 2 math. scores: {q1 t1, q1 t2, q2 t1, q2 t2} per model. */
  private Path judgments(String name, double[] a, double[] b) {
    List<String> lines = new ArrayList<>();
    String[] models = {"model-a", "model-b"};
    double[][] scores = {a, b};
    for (int m = 0; m < 2; m++) {
      for (int k = 0; k < 4; k++) {
        int q = 1 + k / 2;
        int turn = 1 + k % 2;
        double s = scores[m][k];
        String score = s == Math.rint(s) ? String.valueOf((long) s) : String.valueOf(s);
        lines.add("{\"question_id\": " + q + ", \"model\": \"" + models[m] + "\", \"judge\": [\"judge-x\", \"single-v1\"], "
            + "\"user_prompt\": \"p\", \"judgment\": \"j\", \"score\": " + score + ", \"turn\": " + turn + ", \"tstamp\": 1.5}");
      }
    }
    return TestFiles.jsonl(dir, name, lines);
  }

  private Path questions() {
    return TestFiles.jsonl(dir, "question.jsonl", List.of(
        "{\"question_id\": 1, \"category\": \"writing\", \"turns\": [\"a\", \"b\"]}",
        "{\"question_id\": 2, \"category\": \"math\", \"turns\": [\"c\", \"d\"]}"));
  }

  private JsonNode scores(String... args) throws Exception {
    List<String> a = new ArrayList<>(List.of("scores", "--format", "json"));
    a.addAll(List.of(args));
    Cli r = Cli.run(a.toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    return new ObjectMapper().readTree(r.out());
  }

  @Test
  void oneRunPerTurnPerCategoryAndNormalised() throws Exception {
    // model-a: 8, 6 on writing; 4, -1 on math. The -1 is dropped: average (8+6+4)/3, turn 1 (8+4)/2, turn 2 6/1.
    Path f = judgments("run1.jsonl", new double[] {8, 6, 4, -1}, new double[] {10, 9.5, 3, 2});
    JsonNode j = scores("--judgments", f.toString(), "--questions", questions().toString());
    JsonNode a = j.get("models").get("model-a");
    assertEquals((8 + 6 + 4) / 3.0, a.get("average").get("mean").asDouble(), EPS);
    assertEquals((8 + 4) / 2.0, a.get("turn_1").get("mean").asDouble(), EPS);
    assertEquals(6.0, a.get("turn_2").get("mean").asDouble(), EPS);
    assertEquals((8 + 6) / 2.0, a.get("categories").get("writing").get("mean").asDouble(), EPS);
    assertEquals(4.0, a.get("categories").get("math").get("mean").asDouble(), EPS);
    assertEquals(((8 + 6) / 2.0 + 4) / 2, a.get("category_average").get("mean").asDouble(), EPS);
    assertEquals(4, a.get("judgments").asLong());
    assertEquals(1, a.get("failed").asLong(), "the -1 is counted");
    JsonNode b = j.get("models").get("model-b");
    assertEquals((10 + 9.5 + 3 + 2) / 4, b.get("average").get("mean").asDouble(), EPS);
    assertEquals((9.5 + 2) / 2, b.get("turn_2").get("mean").asDouble(), EPS);
    assertEquals(0, b.get("failed").asLong());

    JsonNode n = scores("--judgments", f.toString(), "--questions", questions().toString(), "--normalize");
    assertTrue(n.get("normalized").asBoolean());
    assertEquals((8 + 6 + 4) / 3.0 / 10, n.get("models").get("model-a").get("average").get("mean").asDouble(), EPS);
    assertEquals((10 + 3) / 2.0 / 10, n.get("models").get("model-b").get("turn_1").get("mean").asDouble(), EPS);
    assertEquals((3 + 2) / 2.0 / 10, n.get("models").get("model-b").get("categories").get("math").get("mean").asDouble(), EPS);

    // Without the questions a FastChat file has no categories: the turns and the average only.
    JsonNode noCats = scores("--judgments", f.toString());
    assertTrue(noCats.get("models").get("model-a").get("categories").isEmpty());
    assertTrue(noCats.get("models").get("model-a").get("category_average").isNull());

    Cli text = Cli.run("scores", "--judgments", f.toString(), "--questions", questions().toString());
    assertEquals(0, text.code(), text.err());
    assertTrue(text.out().matches("(?s).*model-a\\s+6\\.00\\s+6\\.00\\s+6\\.00\\s+5\\.50\\s+4\\s+1\\s+0.*"), text.out());
    assertTrue(text.out().matches("(?s).*writing\\s+math.*model-a\\s+7\\.00\\s+4\\.00.*"), "category columns in FastChat's order: " + text.out());
    Cli csv = Cli.run("scores", "--judgments", f.toString(), "--questions", questions().toString(), "--format", "csv");
    assertEquals(0, csv.code(), csv.err());
    assertTrue(csv.out().startsWith("model,metric,mean,std,runs\n"), csv.out());
    assertTrue(csv.out().contains("model-a,category:math,4.0,0.0,1\n") && csv.out().contains("model-a,failed,1,,\n"), csv.out());
  }

  @Test
  void severalJudgeRunsAreAveragedWithTheirSpread() throws Exception {
    Path r1 = judgments("run1.jsonl", new double[] {8, 6, 4, -1}, new double[] {10, 9.5, 3, 2});
    Path r2 = judgments("run2.jsonl", new double[] {7, 7, 5, 3}, new double[] {10, 9.5, 3, 2});
    JsonNode j = scores("--judgments", r1.toString(), r2.toString(), "--questions", questions().toString());
    assertEquals(2, j.get("runs").size());
    JsonNode avg = j.get("models").get("model-a").get("average");
    double run1 = (8 + 6 + 4) / 3.0;
    double run2 = (7 + 7 + 5 + 3) / 4.0;
    double mean = (run1 + run2) / 2;
    assertEquals(mean, avg.get("mean").asDouble(), EPS);
    // Sample standard deviation over the runs (n - 1).
    assertEquals(Math.sqrt((Math.pow(run1 - mean, 2) + Math.pow(run2 - mean, 2)) / 1), avg.get("std").asDouble(), EPS);
    assertEquals(List.of(run1, run2), List.of(avg.get("runs").get(0).asDouble(), avg.get("runs").get(1).asDouble()));
    assertEquals(((6.0 / 1) + (7 + 3) / 2.0) / 2, j.get("models").get("model-a").get("turn_2").get("mean").asDouble(), EPS);
    assertEquals(8, j.get("models").get("model-a").get("judgments").asLong());
    assertEquals(1, j.get("models").get("model-a").get("failed").asLong());
    JsonNode b = j.get("models").get("model-b").get("average");
    assertEquals(0.0, b.get("std").asDouble(), EPS, "the same scores in both runs: no spread");
    Cli text = Cli.run("scores", "--judgments", r1.toString(), "--judgments", r2.toString());
    assertEquals(0, text.code(), text.err());
    assertTrue(text.out().contains("2 judge runs") && text.out().contains("±"), text.out());
  }
}
