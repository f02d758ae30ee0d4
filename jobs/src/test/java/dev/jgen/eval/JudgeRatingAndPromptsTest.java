package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.config.ConfigException;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The rating as FastChat's run_judge_single reads it (re.search of [[x]], then [x], ast.literal_eval, else -1), the
 * judge prompts' placeholders as str.format fills them, and a prompt file lacking a placeholder refused before Spark.
 */
class JudgeRatingAndPromptsTest {
  @TempDir Path dir;

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', nullValues = "NULL", value = {
      // judgment | score | matched text | int?
      "丁寧で正確な回答です。評価: [[8]]|8|8|true",
      "説明が詳しい。評価: [[8.5]]|8.5|8.5|false",
      "評価は [7] です。|7|7|true",                       // only the backup pattern
      "評価できませんでした。|-1|NULL|true",              // none: -1
      "[2] の観点では弱いが、総合で [[6]]|6|6|true",       // [[x]] is searched first, wherever it is
      "最初は [[3]]、見直して [[9]]|3|3|true",            // re.search: the first match
      "評価: [[10]]|10|10|true",
      "評価: [[8]|8|8|true",                              // [[8] is no [[x]]; the backup finds [8]
      "評価: [[ 8 ]]|-1|NULL|true",                       // no digit right after the bracket: no match
      "評価: [8/10]|-1|NULL|true",
      "評価: [[7.]]|7|7.|false",                          // Python reads 7. as the float 7.0
      "評価: [[08.5]]|8.5|08.5|false",
      "評価: [[08]]|-1|08|true",                          // ast.literal_eval('08') raises: -1 here
      "評価: [[８]]|-1|８|true",                          // \\d matches full-width digits in Python; literal_eval raises
  })
  void ratingIsReadAsFastChatReadsIt(String judgment, double score, String text, boolean isInt) {
    JudgeRating.Rating r = JudgeRating.parse(judgment);
    assertEquals(score, r.score(), judgment);
    assertEquals(text, r.text(), judgment);
    if (text != null) {
      assertEquals(isInt, r.isInt(), judgment);
    }
  }

  @Test
  void templatesAreFilledAsPythonStrFormat() {
    assertEquals("{x} Q: 質問 / A: 回答 }", JudgePrompts.format("{{x}} Q: {question} / A: {answer} }}",
        Map.of("question", "質問", "answer", "回答")));
    assertEquals(List.of("question", "answer"), List.copyOf(JudgePrompts.fields("{question}{answer}{question}")));
    assertThrows(IllegalArgumentException.class, () -> JudgePrompts.format("{question}", Map.of()));
    assertThrows(IllegalArgumentException.class, () -> JudgePrompts.fields("a } b"));
    assertThrows(IllegalArgumentException.class, () -> JudgePrompts.fields("{question!r}"));
  }

  @Test
  void theDefaultPromptsHoldFastChatsPlaceholdersAndOutputFormat() {
    for (String lang : List.of("ja", "en")) {
      JudgePrompts p = JudgePrompts.load(TestFiles.conf().resolve("judge/judge_prompts_" + lang + ".jsonl"));
      assertEquals(JudgePrompts.SINGLE, p.forTurn(1, false).name());
      assertEquals(JudgePrompts.SINGLE_REF, p.forTurn(1, true).name());
      assertEquals(JudgePrompts.MULTI, p.forTurn(2, false).name());
      assertEquals(JudgePrompts.MULTI_REF, p.forTurn(2, true).name());
      for (String name : JudgePrompts.names()) {
        JudgePrompts.Prompt x = p.forTurn(name.contains("multi") ? 2 : 1, name.contains("math"));
        assertTrue(JudgePrompts.fields(x.template()).containsAll(JudgePrompts.NEEDED.get(name)), lang + " " + name);
        assertTrue(x.template().contains("[[") && !x.systemPrompt().isBlank(), "asks for the [[rating]] format: " + lang + " " + name);
      }
    }
  }

  private Path promptsWith(String name, String template) throws IOException {
    List<String> lines = Files.readAllLines(TestFiles.conf().resolve("judge/judge_prompts_en.jsonl"), StandardCharsets.UTF_8);
    lines.add("{\"name\": \"" + name + "\", \"type\": \"single\", \"system_prompt\": \"s\", \"prompt_template\": \"" + template
        + "\", \"output_format\": \"[[rating]]\"}");
    return TestFiles.jsonl(dir, "prompts.jsonl", lines);
  }

  @Test
  void aPromptLackingAPlaceholderIsAConfigErrorNamingIt() throws IOException {
    // A later line replaces an earlier one with the same name, as FastChat's load_judge_prompts does.
    ConfigException e = assertThrows(ConfigException.class,
        () -> JudgePrompts.load(promptsWith("single-math-v1", "Q {question} A {answer}")));
    assertTrue(e.getMessage().contains("single-math-v1") && e.getMessage().contains("{ref_answer_1}"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> JudgePrompts.load(promptsWith("single-v1", "Q {question} A {answer} R {ref_answer_1}")));
    assertTrue(e.getMessage().contains("single-v1") && e.getMessage().contains("nothing fills"), e.getMessage());
  }

  @Test
  void theJudgeJobRefusesABadPromptFileWithExitTwo() throws IOException {
    Path bad = promptsWith("single-v1-multi-turn", "Q1 {question_1} A1 {answer_1} Q2 {question_2}");
    Cli r = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/judge.yaml").toString(),
        "--set", "input.path=" + TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl"), "--set", "output.path=" + dir.resolve("j"),
        "--set", "judge.prompts=" + bad);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("single-v1-multi-turn") && r.err().contains("{answer_2}"), r.err());
    assertTrue(!Files.exists(dir.resolve("j")), "nothing was written");
    // model.id in a judge job would read as the judged model: refused, not ignored.
    Cli m = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/judge.yaml").toString(),
        "--set", "input.path=" + TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl"), "--set", "output.path=" + dir.resolve("j"),
        "--set", "model.id=tiny-llama-ja");
    assertEquals(2, m.code(), m.err());
    assertTrue(m.err().contains("judge.model.id"), m.err());
  }
}
