package dev.jgen.eval;

import dev.jgen.input.AttributeSweep;
import dev.jgen.input.MtBenchTemperatures;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jgen.config.ConfigKeys;
import dev.jgen.config.ConfigLoader;
import dev.jgen.config.JobConfig;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestModels;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The sample job configs and question file of the evaluation modes load and check. */
class EvalConfigFilesTest {
  @Test
  void sampleConfigsLoad() {
    JobConfig mt = ConfigLoader.load(TestFiles.conf().resolve("jobs/mtbench.yaml"), List.of());
    assertEquals("mtbench", mt.string(ConfigKeys.JOB_KIND));
    assertEquals(0.7, MtBenchTemperatures.of(mt).forCategory("writing"));
    JobConfig sweep = ConfigLoader.load(TestFiles.conf().resolve("jobs/sweep.yaml"), List.of());
    assertEquals(Map.of("verbosity", List.of(0, 2, 4), "humor", List.of(0, 4)),
        AttributeSweep.validate(sweep.map(ConfigKeys.ATTRIBUTES_SWEEP), TestModels.spec(sweep.string(ConfigKeys.MODEL_ID), false, "reject")));
    JobConfig self = ConfigLoader.load(TestFiles.conf().resolve("jobs/selfchat.yaml"), List.of("selfchat.turns=2"));
    assertEquals(2, self.integer(ConfigKeys.SELFCHAT_TURNS));
    assertEquals(GenerateSelfChat.DEFAULT_USER_PROMPT, GenerateSelfChat.userPrompt(self));
    JobConfig judge = ConfigLoader.load(TestFiles.conf().resolve("jobs/judge.yaml"), List.of());
    assertEquals("judge", judge.string(ConfigKeys.JOB_KIND));
    assertEquals(ConfigKeys.FASTCHAT_REF_CATEGORIES, judge.strings(ConfigKeys.JUDGE_REF_CATEGORIES));
    // FastChat's judge max_tokens when the config does not set it (generate's 256 would cut judgments short).
    assertEquals(ConfigKeys.FASTCHAT_JUDGE_MAX_TOKENS, ConfigLoader.load(TestFiles.conf().resolve("jobs/judge.yaml"),
        List.of("generation.max_new_tokens=")).integer(ConfigKeys.MAX_NEW_TOKENS));
  }

  @Test
  void sampleQuestionsAreFastChatQuestions() throws Exception {
    List<String> lines = Files.readAllLines(TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl"));
    assertEquals(8, lines.size());
    for (int i = 0; i < lines.size(); i++) {
      Map<String, Object> q = EvalInput.parseLine(lines.get(i));
      EvalInput.Record r = new EvalInput.Record(i, q, String.valueOf(q.get("question_id")), String.valueOf(q.get("question_id")), null);
      List<Dialogue> d = GenerateMtBenchAnswers.questions(r, 1, MtBenchTemperatures.of(ConfigLoader.load(
          TestFiles.conf().resolve("jobs/mtbench.yaml"), List.of())));
      assertEquals(null, d.get(0).error, lines.get(i));
      assertEquals(2, d.get(0).userTurns.size());
    }
  }
}
