package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.config.ConfigLoader;
import dev.jgen.config.GenerationSettings;
import dev.jgen.config.JobConfig;
import dev.jgen.input.MtBenchTemperatures;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind runs on the one attempt runner, so what it records is the same: each chunk commit's metadata has the same
 * lineage keys (the kind's stable id, jgen's version, run, attempt, chunk, settings, model, template), each attempt's
 * runs-table record the same fields; and a --retry-errors attempt samples anew in every kind.
 */
class RunnerParityTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** What every kind's commits record (git_revision too, where jgen runs from a git checkout). */
  private static final Set<String> LINEAGE = Set.of("job_kind", "jgen_version", "run_id", "attempt", "chunk", "config_hash",
      "model_id", "template_sha256", "template_origin");

  @TempDir Path dir;

  @Test
  void commitsAndRunsTableRecordsAreTheSameForEveryKind() throws Exception {
    Path prompts = TestFiles.jsonl(dir, "p.jsonl", List.of("{\"id\": \"a\", \"prompt\": \"自己紹介をしてください。\"}"));
    Path questions = TestFiles.jsonl(dir, "q.jsonl",
        Files.readAllLines(TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl")).subList(0, 1));
    Map<String, String[]> kinds = Map.of(
        "generate", new String[] {"demo.yaml", "input.path=" + prompts},
        "mtbench", new String[] {"mtbench.yaml", "input.path=" + questions},
        "selfchat", new String[] {"selfchat.yaml", "input.path=" + prompts},
        "magpie", new String[] {"magpie.yaml", "input.path=" + prompts});
    for (var k : kinds.entrySet()) {
      String out = dir.resolve(k.getKey()).toString();
      Cli r = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/" + k.getValue()[0]).toString(),
          "--set", k.getValue()[1], "--set", "output.path=" + out, "--set", "generation.max_new_tokens=4",
          "--set", "run.id=parity-" + k.getKey());
      assertEquals(0, r.code(), k.getKey() + ": " + r.err());
      List<Row> commits = TestSpark.get().sql("DESCRIBE HISTORY delta.`" + out + "`").where("operation = 'WRITE'")
          .select("userMetadata").collectAsList();
      assertTrue(!commits.isEmpty(), k.getKey());
      for (Row c : commits) {
        JsonNode m = JSON.readTree(c.getString(0));
        Set<String> keys = new TreeSet<>();
        m.fieldNames().forEachRemaining(keys::add);
        assertTrue(keys.containsAll(LINEAGE), k.getKey() + " commits record the lineage every kind does: " + keys);
        assertEquals(k.getKey(), m.get("job_kind").asText());
        assertEquals("parity-" + k.getKey(), m.get("run_id").asText());
        assertEquals(1, m.get("attempt").asInt());
      }
      Row run = TestSpark.get().read().format("delta").load(out + "_runs").where("status = 'finished'").first();
      for (String field : List.of("jgen_version", "config_hash", "model_id", "template_sha256", "rows_in", "generated", "ok",
          "error", "prompt_tokens", "completion_tokens", "model_load_ms", "generation_seconds", "seconds")) {
        assertNotNull(run.getAs(field), k.getKey() + ": the runs table records " + field);
      }
      assertTrue(run.<Long>getAs("completion_tokens") > 0, k.getKey() + " counts its completion tokens");
    }
  }

  @Test
  void aRetryErrorsAttemptSamplesAnewInTheMultiTurnKinds() throws Exception {
    JobConfig config = ConfigLoader.load(TestFiles.conf().resolve("jobs/mtbench.yaml"), List.of("generation.temperature=0.7"));
    GenerationSettings generation = new GenerationSettings(config, null);
    String line = Files.readAllLines(TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl")).get(0);
    Map<String, Object> q = EvalInput.parseLine(line);
    EvalInput.Record r = new EvalInput.Record(0, q, String.valueOf(q.get("question_id")), String.valueOf(q.get("question_id")), null);
    List<Long> mtbench = new ArrayList<>();
    List<Long> selfchat = new ArrayList<>();
    for (String salt : List.of("", "", "#retry2")) {
      Dialogue d = GenerateMtBenchAnswers.questions(r, 1, MtBenchTemperatures.of(config)).get(0).withSeedSalt(salt);
      mtbench.add(new GenerateMtBenchAnswers.Planner(generation).plan(d, 1).params().seed());
      Dialogue s = GenerateSelfChat.seeds(new EvalInput.Record(0, Map.of("id", "a", "prompt", "こんにちは"), "a", "a", null), 1).get(0)
          .withSeedSalt(salt);
      selfchat.add(new GenerateSelfChat.Planner(generation, "{conversation}").plan(s, 1).params().seed());
    }
    assertEquals(mtbench.get(0), mtbench.get(1), "a conversation's seed is stable");
    assertNotEquals(mtbench.get(0), mtbench.get(2), "a retry's seed is new");
    assertEquals(selfchat.get(0), selfchat.get(1));
    assertNotEquals(selfchat.get(0), selfchat.get(2));
  }
}
