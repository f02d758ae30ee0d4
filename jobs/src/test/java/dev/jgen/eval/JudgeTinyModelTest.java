package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline end to end on the tiny random model through llama.cpp, with the example configs: MT-Bench answers into
 * Delta, the same model judging them from that table (its own chat template), the FastChat export and `jgen scores`.
 * The tiny model's ratings are noise: what is checked is that every judgment went through and was read as FastChat
 * reads it (-1 or a parsed rating).
 */
class JudgeTinyModelTest {
  @TempDir Path dir;

  private static Cli generate(String config, String... sets) {
    String[] args = new String[3 + 2 * sets.length];
    args[0] = "generate";
    args[1] = "--config";
    args[2] = TestFiles.conf().resolve("jobs/" + config).toString();
    for (int i = 0; i < sets.length; i++) {
      args[3 + 2 * i] = "--set";
      args[4 + 2 * i] = sets[i];
    }
    return Cli.run(args);
  }

  @Test
  void answersThenJudgmentsThenScoresOnTheTinyModel() throws Exception {
    String questions = TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl").toString();
    String refs = TestFiles.conf().resolve("data/mtbench-jp-sample-reference.jsonl").toString();
    String answers = dir.resolve("answers").toString();
    Cli a = generate("mtbench.yaml", "input.path=" + questions, "output.path=" + answers, "generation.max_new_tokens=8");
    assertEquals(0, a.code(), a.err());
    assertEquals(8, a.summary().get("ok").asLong(), a.out());

    String judgments = dir.resolve("judgments").toString();
    Cli j = generate("judge.yaml", "input.path=" + answers, "output.path=" + judgments, "judge.questions=" + questions,
        "judge.references=" + refs, "generation.max_new_tokens=16", "engine.ctx_size=2048", "run.id=judge-1");
    assertEquals(0, j.code(), j.err());
    assertEquals(16, j.summary().get("rows_in").asLong(), "8 questions x 2 turns: " + j.out());
    assertEquals(16, j.summary().get("ok").asLong(), j.out());
    List<Row> rows = TestSpark.get().read().format("delta").load(judgments).collectAsList();
    assertEquals(16, rows.size());
    for (Row r : rows) {
      assertEquals("tiny-llama-ja", r.getAs("model"), "a mtbench table's model is its model_id");
      assertEquals("tiny-llama-ja", r.getAs("judge"));
      assertEquals("llamacpp", r.getAs("engine"));
      String judgment = r.getAs("judgment");
      assertEquals(JudgeRating.parse(judgment).score(), (Double) r.getAs("score"), judgment);
      double score = r.getAs("score");
      assertTrue(score == -1 || score >= 0, "a rating or -1: " + score);
      assertTrue(((String) r.getAs("prompt")).contains(((String) r.getAs("user_prompt")).substring(0, 30)),
          "the judge prompt rendered with the judge's chat template");
      assertTrue((Integer) r.getAs("completion_tokens") > 0);
    }
    String cat3 = rows.stream().filter(r -> "3".equals(r.getAs("question_id")) && (Integer) r.getAs("turn") == 2)
        .map(r -> (String) r.getAs("prompt_name")).findFirst().orElseThrow();
    assertEquals("single-math-v1-multi-turn", cat3, "reasoning is graded against the reference");

    // Without references, the categories that need one are error rows naming the question; the others are judged.
    Cli noRef = generate("judge.yaml", "input.path=" + answers, "output.path=" + judgments, "judge.questions=" + questions,
        "judge.references=", "generation.max_new_tokens=16", "engine.ctx_size=2048", "run.id=judge-noref");
    assertEquals(0, noRef.code(), noRef.err());
    assertEquals(16, noRef.summary().get("rows_in").asLong());
    assertEquals(10, noRef.summary().get("ok").asLong(), noRef.out());
    assertEquals(6, noRef.summary().get("error").asLong(), "reasoning, math and coding, two turns each");
    for (Row r : TestSpark.get().read().format("delta").load(judgments).where("run_id = 'judge-noref' AND status = 'error'")
        .collectAsList()) {
      String e = r.getAs("error");
      assertTrue(e.contains("question " + r.getAs("question_id")) && e.contains("no reference answer"), e);
    }

    // judge.constrain_rating: a grammar makes even the random model end every judgment with a rating [[1]]..[[10]].
    Cli constrained = generate("judge.yaml", "input.path=" + answers, "output.path=" + judgments, "judge.questions=" + questions,
        "judge.references=" + refs, "generation.max_new_tokens=48", "engine.ctx_size=2048", "run.id=judge-constrained",
        "judge.constrain_rating=24");
    assertEquals(0, constrained.code(), constrained.err());
    assertEquals(16, constrained.summary().get("ok").asLong(), constrained.out());
    for (Row r : TestSpark.get().read().format("delta").load(judgments).where("run_id = 'judge-constrained'").collectAsList()) {
      String judgment = r.getAs("judgment");
      double score = r.getAs("score");
      assertTrue(score >= 1 && score <= 10 && score == Math.rint(score), "a rating from the grammar: " + judgment);
      assertTrue(judgment.endsWith("[[" + (long) score + "]]") && judgment.indexOf('[') >= judgment.length() - 6
          && judgment.codePointCount(0, judgment.length()) <= 24 + 6, "at most 24 characters, then the rating: " + judgment);
    }
    Cli djl = generate("judge.yaml", "input.path=" + answers, "output.path=" + judgments, "judge.questions=" + questions,
        "judge.constrain_rating=24", "engine.kind=djl-serving", "engine.djl.endpoints=http://127.0.0.1:9");
    assertEquals(2, djl.code(), "the grammar needs llama.cpp: " + djl.err());
    assertTrue(djl.err().contains("judge.constrain_rating"), djl.err());

    Cli export = Cli.run("export", "judgment", "--output", judgments, "--run", "judge-1", "--to", dir.resolve("model_judgment").toString());
    assertEquals(0, export.code(), export.err());
    Path file = dir.resolve("model_judgment/tiny-llama-ja_single.jsonl");
    assertEquals(16, Files.readAllLines(file).size(), export.out());
    Cli scores = Cli.run("scores", "--output", judgments, "--run", "judge-1");
    assertEquals(0, scores.code(), scores.err());
    assertTrue(scores.out().contains("tiny-llama-ja") && scores.out().contains("JUDGED"), scores.out());
    Cli fromFile = Cli.run("scores", "--judgments", file.toString(), "--questions", questions, "--format", "csv");
    assertEquals(0, fromFile.code(), fromFile.err());
    assertTrue(fromFile.out().contains("tiny-llama-ja,judgments,16,"), fromFile.out());
  }
}
