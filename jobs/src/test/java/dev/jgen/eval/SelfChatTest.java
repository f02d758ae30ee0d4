package dev.jgen.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestModels;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Self-chat dialogues on the tiny model with KARAKURI 70B's template, which refuses roles that do not alternate. */
class SelfChatTest {
  @TempDir Path dir;

  @Test
  void dialoguesAlternateRolesAndRenderWithTheTemplate() {
    String model = "karakuri-lm-70b-chat-v0.1";
    Path in = TestFiles.jsonl(dir, "seeds.jsonl", List.of(
        "{\"id\": \"s1\", \"prompt\": \"おすすめの本を教えてください。\"}",
        "{\"id\": \"s2\", \"prompt\": \"週末の過ごし方を提案してください。\", \"system\": \"丁寧に答えてください。\"}",
        "{\"id\": \"s3\"}"));
    Map<String, Object> s = EvalTesting.settings(model, in, dir.resolve("dialogues"));
    s.put("job.kind", "selfchat");
    s.put("selfchat.turns", 3);
    s.put("selfchat.user_prompt", "次の対話の続きとして、ユーザーの次の質問を一つ書いてください。\n{dialogue}\n質問:");
    SelfChatResult r = GenerateSelfChat.of(TestSpark.get(), EvalTesting.job(s)).progress(null).execute();
    assertEquals(3, r.rowsIn());
    assertEquals(r.rowsIn(), r.ok() + r.error());
    assertEquals(2, r.ok(), r.toString());

    PromptTranslator template = new PromptTranslator(TestModels.spec(model, false, "reject"));
    Map<String, Row> byId = new HashMap<>();
    TestSpark.get().read().format("delta").load(dir.resolve("dialogues").toString()).collectAsList()
        .forEach(x -> byId.put(x.getAs("row_key"), x));
    assertEquals("error", byId.get("s3").getAs("status"));
    assertEquals("prompt: missing", byId.get("s3").getAs("error"));
    for (String id : List.of("s1", "s2")) {
      Row row = byId.get(id);
      assertEquals("ok", row.getAs("status"), String.valueOf(row));
      assertEquals(3, (Integer) row.getAs("answers"));
      List<Row> messages = row.getList(row.fieldIndex("messages"));
      assertEquals(6, messages.size());
      List<Map<String, Object>> conversation = new ArrayList<>();
      for (int i = 0; i < messages.size(); i++) {
        Row m = messages.get(i);
        assertEquals(i % 2 == 0 ? "user" : "assistant", m.getAs("role"), "roles alternate, user first");
        String content = m.getAs("content");
        assertFalse(content.isBlank());
        conversation.add(Dialogue.message(m.getAs("role"), content));
      }
      assertEquals(id.equals("s1") ? "おすすめの本を教えてください。" : "週末の過ごし方を提案してください。",
          messages.get(0).getAs("content"), "the seed instruction opens the dialogue");
      // The conversation renders with the model's template (which raises on roles out of order), as SFT data would be.
      ChatInput chat = new ChatInput(conversation, null, row.getAs("system"), Map.of(), false, null, null);
      String rendered = template.prepare(chat, 8).text();
      for (Map<String, Object> m : conversation) {
        assertTrue(rendered.contains(m.get("content") + " "), rendered);
      }
      assertEquals(id.equals("s2"), rendered.contains("<<SYS>>\n丁寧に答えてください。\n<</SYS>>"));

      // Lineage: answer, simulated user, answer, simulated user, answer.
      List<Row> steps = row.getList(row.fieldIndex("steps"));
      assertEquals(5, steps.size());
      for (int i = 0; i < steps.size(); i++) {
        Row step = steps.get(i);
        boolean answer = i % 2 == 0;
        assertEquals(answer ? "answer" : "user_simulator", step.getAs("kind"));
        assertEquals(i + 1, (Integer) step.getAs("message_index"));
        assertEquals((String) messages.get(i + 1).getAs("content"), (String) step.getAs("text"));
        String prompt = step.getAs("prompt");
        if (answer) {
          assertTrue(prompt.endsWith("[/ATTR] [/INST]"), prompt);
        } else {
          assertTrue(prompt.startsWith("<s>[INST] 次の対話の続きとして") && prompt.contains("ユーザー: " + messages.get(0).getAs("content")
              + "\nアシスタント: " + messages.get(1).getAs("content")), prompt);
        }
      }
    }
  }
}
