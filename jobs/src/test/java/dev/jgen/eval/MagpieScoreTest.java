package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.catalog.ModelResolver;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * job.kind=magpie and job.kind=score end to end on the tiny random model through the native llama.cpp engine, real
 * Spark and Delta: Magpie instructions written from KARAKURI 70B's pre-query prompt (the tiny model whose EOS can be
 * sampled, so some instructions end on their own and others are cut by max_new_tokens), then a constrained judge
 * rating every ok row of that table; each resumed on a grown input, generating only what is missing.
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class MagpieScoreTest {
  @TempDir Path dir;

  private static final int MAX_NEW = 48;

  /** The EOS-sampling tiny model's GGUF and tokenizer.json, without a template: the catalog entry's template applies. */
  static synchronized Path stoppingWeights() throws Exception {
    Path tiny = TinyModelWriter.ensure(ModelResolver.defaultCacheDir().resolve("models"), TinyModelSpec.tinyStopping());
    Path out = ModelResolver.defaultCacheDir().resolve("magpie-tiny-stop-weights");
    Files.createDirectories(out);
    for (String f : new String[] {"model.gguf", "tokenizer.json"}) {
      if (!Files.exists(out.resolve(f)) || Files.size(out.resolve(f)) != Files.size(tiny.resolve(f))) {
        Path tmp = out.resolve("." + f + "." + ProcessHandle.current().pid() + "-" + java.util.UUID.randomUUID() + ".tmp");
        Files.copy(tiny.resolve(f), tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, out.resolve(f), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      }
    }
    return out;
  }

  private static final List<String> SEEDS = List.of(
      "{\"id\": \"m1\"}",
      "{\"id\": \"m2\", \"system\": \"丁寧に答えてください。\"}",
      "{\"id\": \"m3\", \"humor\": 3}",
      "{\"id\": \"m4\", \"system\": 5}",
      "{\"id\": \"m5\", \"system\": \"あなたは料理の専門家です。\", \"verbosity\": 1}",
      "{\"id\": \"m6\"}",
      "{\"id\": \"m7\", \"helpfulness\": 9}",
      "{\"id\": \"m8\", \"system\": \"短く答えてください。\"}");

  private Cli magpie(Path input, Path output) throws Exception {
    return Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/magpie.yaml").toString(),
        "--set", "input.path=" + input, "--set", "output.path=" + output, "--set", "model.id=karakuri-lm-70b-chat-v0.1",
        "--set", "model.path=" + stoppingWeights(), "--set", "generation.max_new_tokens=" + MAX_NEW, "--set", "generation.temperature=0.7",
        "--set", "generation.n=2", "--set", "engine.ctx_size=1024", "--set", "engine.threads=2", "--set", "job.partitions=2",
        // The random model seldom samples its EOS after this prompt: a text it writes often ends a turn instead, as a
        // user's stop string does (generation.stop ends the instruction as the template's end of turn does).
        "--set", "generation.stop=題", "--set", "run.id=magpie-1");
  }

  private static Cli score(Path input, Path output, String... more) {
    List<String> args = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/score.yaml").toString(),
        "--set", "input.path=" + input, "--set", "output.path=" + output,
        "--set", "generation.max_new_tokens=48", "--set", "score.constrain_rating=24", "--set", "engine.threads=2",
        "--set", "job.partitions=2", "--set", "run.id=score-1"));
    for (String m : more) {
      args.add("--set");
      args.add(m);
    }
    return Cli.run(args.toArray(String[]::new));
  }

  @Test
  void magpieInstructionsThenScoresEachResumedOnAGrownInput() throws Exception {
    Path input = dir.resolve("seeds.jsonl");
    Path instructions = dir.resolve("instructions");
    Path scores = dir.resolve("scores");
    // An interrupted run, in effect: the first three rows only.
    TestFiles.jsonl(dir, "seeds.jsonl", SEEDS.subList(0, 3));
    Cli first = magpie(input, instructions);
    assertEquals(0, first.code(), first.err());
    assertEquals(6, first.summary().get("rows_in").asLong(), first.out());
    Cli firstScores = score(instructions, scores);
    assertEquals(0, firstScores.code(), firstScores.err());
    long okFirst = first.summary().get("ok").asLong();
    assertEquals(okFirst, firstScores.summary().get("rows_in").asLong(), "every ok row of the source is scored: " + firstScores.out());

    // The whole input: only the five new rows (x2 samples) are generated.
    TestFiles.jsonl(dir, "seeds.jsonl", SEEDS);
    Cli all = magpie(input, instructions);
    assertEquals(0, all.code(), all.err());
    assertEquals(16, all.summary().get("rows_in").asLong());
    assertEquals(16, all.summary().get("ok").asLong() + all.summary().get("error").asLong());
    assertTrue(all.out().contains("10 generated now"), all.out());

    List<Row> rows = TestSpark.get().read().format("delta").load(instructions.toString()).collectAsList();
    assertEquals(16, rows.size(), "each (row, sample) once");
    int ok = 0;
    int truncated = 0;
    for (Row r : rows) {
      String id = r.getAs("id");
      String status = r.getAs("status");
      String error = r.getAs("error");
      List<Row> steps = r.getList(r.fieldIndex("steps"));
      if (id.equals("m4")) {
        assertEquals("system: expected a string, got a number (5)", error.replaceAll("got an? .*", "got a number (5)"), error);
        continue;
      }
      if (id.equals("m7")) {
        assertTrue(error.startsWith("instruction: ") && error.contains("helpfulness"), error);
        continue;
      }
      String prefix = steps.get(0).getAs("prompt");
      String system = r.getAs("system");
      assertEquals(system == null ? "<s>[INST] " : "<s>[INST] <<SYS>>\n" + system + "\n<</SYS>>\n\n", prefix,
          "the pre-query prompt of KARAKURI 70B's template");
      if (status.equals("ok")) {
        ok++;
        assertNull(error);
        String instruction = r.getAs("instruction");
        assertFalse(instruction.isBlank());
        assertEquals("stop", r.getAs("instruction_finish_reason"), "an instruction ends on its end of turn");
        List<Row> messages = r.getList(r.fieldIndex("messages"));
        assertEquals(2, messages.size());
        assertEquals("user", messages.get(0).getAs("role"));
        assertEquals(instruction, messages.get(0).getAs("content"));
        assertEquals("assistant", messages.get(1).getAs("role"));
        assertTrue((Integer) r.getAs("instruction_tokens") > 0 && (Integer) r.getAs("answer_tokens") > 0);
        assertTrue(r.getAs("answer_finish_reason") != null);
        String answerPrompt = steps.get(1).getAs("prompt");
        assertTrue(answerPrompt.startsWith(prefix + instruction + " [ATTR] helpfulness: ") && answerPrompt.endsWith("[/ATTR] [/INST]"),
            "the answer is a normal turn of the template: " + answerPrompt);
        if (id.equals("m3")) {
          assertTrue(answerPrompt.contains("humor: 3"), answerPrompt);
          assertEquals(3, (Integer) r.<Row>getAs("attributes").getAs("humor"));
        }
      } else {
        boolean cut = error.startsWith("instruction: truncated: max_new_tokens " + MAX_NEW + " reached");
        truncated += cut ? 1 : 0;
        assertTrue(cut || error.startsWith("instruction: empty") || error.startsWith("answer: empty"), error);
        if (cut) {
          assertEquals("length", r.getAs("instruction_finish_reason"));
          assertNull(r.getAs("messages"));
        }
      }
    }
    assertTrue(ok >= 2 && truncated >= 1, "the tiny model stops some instructions and runs others to the limit: ok " + ok
        + ", truncated " + truncated);
    System.out.printf("magpie: %d rows, %d ok, %d truncated instructions%n", rows.size(), ok, truncated);

    // The scores resume: only the source's new ok rows are rated.
    Cli allScores = score(instructions, scores);
    assertEquals(0, allScores.code(), allScores.err());
    assertEquals(ok, allScores.summary().get("rows_in").asLong(), allScores.out());
    assertEquals(ok, allScores.summary().get("ok").asLong(), allScores.out());
    assertTrue(allScores.out().contains((ok - okFirst) + " generated now"), allScores.out());
    List<Row> scored = TestSpark.get().read().format("delta").load(scores.toString()).collectAsList();
    assertEquals(ok, scored.size());
    for (Row r : scored) {
      String judgment = r.getAs("judgment");
      double s = r.getAs("score");
      assertEquals(JudgeRating.parse(judgment).score(), s, judgment);
      assertTrue(s >= 1 && s <= 10, "the constrained judge always rates: " + judgment);
      assertEquals("magpie-1", r.getAs("source_run_id"));
      assertEquals("magpie", r.getAs("source_kind"));
      assertEquals("karakuri-lm-70b-chat-v0.1", r.getAs("source_model_id"));
      assertEquals("tiny-llama-ja", r.getAs("judge_model_id"));
      String prompt = r.getAs("prompt");
      assertTrue(prompt.contains("[質問]\n" + r.getAs("instruction") + "\n") && prompt.contains(r.getAs("response")),
          "the rubric filled and rendered in the judge's template: " + prompt);
      assertTrue(prompt.startsWith("<s>\n\n### 指示:\n"), prompt);
    }
    // Each commit names the kind, the source and the rubric beside the lineage every kind records.
    for (Row c : TestSpark.get().sql("DESCRIBE HISTORY delta.`" + scores + "`").where("operation = 'WRITE'").select("userMetadata")
        .collectAsList()) {
      var m = new com.fasterxml.jackson.databind.ObjectMapper().readTree(c.getString(0));
      assertEquals("score", m.get("job_kind").asText());
      assertEquals("magpie", m.get("source_kind").asText());
      assertEquals(64, m.get("score_rubric_sha256").asText().length());
      assertEquals("tiny-llama-ja", m.get("model_id").asText());
    }
    // jgen show and runs read both tables.
    // Ok rows (at least 2, asserted above): the first rows by id may all be errors, as the tiny model's samples fall.
    Cli show = Cli.run("show", "--output", instructions.toString(), "--status", "ok", "--limit", "3");
    assertEquals(0, show.code(), show.err());
    assertTrue(show.out().contains(" => "), show.out());
    Cli runs = Cli.run("runs", "--output", scores.toString());
    assertEquals(0, runs.code(), runs.err());
    assertTrue(runs.out().contains("score-1") && runs.out().contains("scores"), runs.out());
  }

  @Test
  void scoresGenerateAndSelfChatTables() throws Exception {
    Path prompts = TestFiles.jsonl(dir, "p.jsonl", List.of("{\"id\": \"a\", \"prompt\": \"自己紹介をしてください。\"}",
        "{\"id\": \"b\", \"prompt\": \"おすすめの本は？\"}"));
    for (String kind : List.of("generate", "selfchat")) {
      Path source = dir.resolve(kind);
      Cli g = Cli.run("generate", "--config", TestFiles.conf().resolve(kind.equals("generate") ? "jobs/demo.yaml" : "jobs/selfchat.yaml")
          .toString(), "--set", "input.path=" + prompts, "--set", "output.path=" + source, "--set", "generation.max_new_tokens=6",
          "--set", "selfchat.turns=2");
      assertEquals(0, g.code(), g.err());
      assertEquals(2, g.summary().get("ok").asLong(), g.out());
      Path scores = dir.resolve(kind + "-scores");
      Cli s = score(source, scores);
      assertEquals(0, s.code(), s.err());
      assertEquals(2, s.summary().get("ok").asLong(), s.out() + TestSpark.get().read().format("delta").load(scores.toString())
          .select("error").collectAsList());
      for (Row r : TestSpark.get().read().format("delta").load(scores.toString()).collectAsList()) {
        assertEquals(kind, r.getAs("source_kind"));
        String instruction = r.getAs("instruction");
        String seed = r.getAs("id").equals("a") ? "自己紹介をしてください。" : "おすすめの本は？";
        if (kind.equals("generate")) {
          assertTrue(instruction.startsWith("<s>") && instruction.contains(seed), "the rendered prompt: " + instruction);
        } else {
          assertTrue(instruction.startsWith("ユーザー: " + seed + "\nアシスタント: "), instruction);
        }
        assertFalse(((String) r.getAs("response")).isEmpty());
        assertTrue((Double) r.getAs("score") >= 1);
      }
    }
  }

  @Test
  void scoresMtBenchConversationsAndReadsStructuredOutput() throws Exception {
    String questions = TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl").toString();
    Path answers = dir.resolve("answers");
    Cli a = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/mtbench.yaml").toString(), "--set", "input.path=" + questions,
        "--set", "output.path=" + answers, "--set", "generation.max_new_tokens=8");
    assertEquals(0, a.code(), a.err());
    long answered = a.summary().get("ok").asLong();
    Path scores = dir.resolve("scores");
    Cli s = score(answers, scores, "engine.ctx_size=2048");
    assertEquals(0, s.code(), s.err());
    assertEquals(answered, s.summary().get("ok").asLong(), s.out());
    for (Row r : TestSpark.get().read().format("delta").load(scores.toString()).collectAsList()) {
      assertEquals("mtbench", r.getAs("source_kind"));
      String instruction = r.getAs("instruction");
      // Two turns: the conversation before the last answer is the instruction, the last answer the response.
      assertTrue(instruction.startsWith("ユーザー: ") && instruction.contains("\nアシスタント: ") && instruction.contains("\nユーザー: "),
          instruction);
      double score = r.getAs("score");
      assertTrue(score >= 1 && score <= 10, String.valueOf(score));
    }

    // score.json: the judge writes {"score": int, "reason": str}; a judgment cut by max_new_tokens is a row error.
    Cli json = score(answers, scores, "engine.ctx_size=2048", "score.constrain_rating=0", "score.json=true",
        "generation.max_new_tokens=96", "run.id=score-json");
    assertEquals(0, json.code(), json.err());
    assertEquals(answered, json.summary().get("rows_in").asLong(), json.out());
    assertEquals(answered, json.summary().get("ok").asLong() + json.summary().get("error").asLong());
    int ok = 0;
    for (Row r : TestSpark.get().read().format("delta").load(scores.toString()).where("run_id = 'score-json'").collectAsList()) {
      if (r.getAs("status").equals("ok")) {
        ok++;
        double score = r.getAs("score");
        assertEquals(Math.rint(score), score, "an integer score");
        assertTrue(r.getAs("reason") != null && ((String) r.getAs("judgment")).contains("\"reason\""), (String) r.getAs("judgment"));
      } else {
        assertTrue(((String) r.getAs("error")).startsWith("the judge failed: "), (String) r.getAs("error"));
      }
    }
    System.out.printf("score.json: %d of %d ok%n", ok, answered);
  }

  @Test
  void badRubricsSourcesAndTemplatesAreConfigErrorsBeforeSpark() throws Exception {
    Path rubric = dir.resolve("rubric.txt");
    Files.writeString(rubric, "質問: {instruction}\n評価してください。");

    // A real table of a kind score does not read: a judgments-like table made by this kind itself.
    Path seeds = TestFiles.jsonl(dir, "one.jsonl", List.of("{\"id\": \"a\"}"));
    Cli m = magpie(seeds, dir.resolve("m"));
    assertEquals(0, m.code(), m.err());
    Cli lacking = score(dir.resolve("m"), dir.resolve("s"), "score.rubric=" + rubric);
    assertEquals(2, lacking.code(), lacking.err());
    assertTrue(lacking.err().contains("score.rubric") && lacking.err().contains("{response}"), lacking.err());
    Files.writeString(rubric, "{instruction} {response} {mood}");
    Cli unknown = score(dir.resolve("m"), dir.resolve("s"), "score.rubric=" + rubric);
    assertEquals(2, unknown.code(), unknown.err());
    assertTrue(unknown.err().contains("{mood}"), unknown.err());

    Cli ok = score(dir.resolve("m"), dir.resolve("s"));
    assertEquals(0, ok.code(), ok.err());
    Cli ofScores = score(dir.resolve("s"), dir.resolve("s2"));
    assertEquals(2, ofScores.code(), ofScores.err());
    assertTrue(ofScores.err().contains("job.kind=score table") && ofScores.err().contains("generate, magpie, selfchat, mtbench"),
        ofScores.err());

    // A template that never renders a user's content has no pre-query prompt.
    Path odd = dir.resolve("odd-model");
    Files.createDirectories(odd);
    for (String f : new String[] {"model.gguf", "tokenizer.json"}) {
      Files.copy(stoppingWeights().resolve(f), odd.resolve(f));
    }
    Files.writeString(odd.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", "
        + "\"chat_template\": \"{% for m in messages %}<{{ m.role }}>{% endfor %}\"}");
    Cli noPrefix = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/magpie.yaml").toString(), "--set",
        "input.path=" + seeds, "--set", "output.path=" + dir.resolve("m2"), "--set", "model.path=" + odd);
    assertEquals(2, noPrefix.code(), noPrefix.err());
    assertTrue(noPrefix.err().contains("no Magpie pre-query prefix") && noPrefix.err().contains("tiny-llama-ja-stop"),
        noPrefix.err());
    assertFalse(Files.exists(dir.resolve("m2")), "nothing started");
  }
}
