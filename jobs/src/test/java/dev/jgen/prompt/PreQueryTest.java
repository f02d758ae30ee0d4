package dev.jgen.prompt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.catalog.ModelEntry;
import dev.jgen.testing.TestModels;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Magpie pre-query prompt derived from each catalog model's own template (no Spark): the expected prefixes below
 * were read by hand from the templates in conf/templates/ (the golden tokenizer configs of /work/shared/templates/).
 */
class PreQueryTest {
  private static PreQuery preQuery(String model, String system, Map<String, Object> attributes) {
    PromptTranslator t = new PromptTranslator(TestModels.spec(model, false, "reject"));
    return t.preQuery(new ChatInput(null, null, system, attributes, true, null, null));
  }

  @Test
  void everyCatalogModelHasAPreQueryPrefixThatRendersBeforeAnyInstruction() {
    List<String> ids = TestModels.catalog().entries().stream().map(ModelEntry::id).sorted().toList();
    assertTrue(ids.size() >= 7, ids.toString());
    for (String id : ids) {
      PromptTranslator t = new PromptTranslator(TestModels.spec(id, false, "reject"));
      for (String system : new String[] {null, "丁寧に答えてください。"}) {
        PreQuery q = t.preQuery(new ChatInput(null, null, system, Map.of(), true, null, null));
        assertFalse(q.prefix().isEmpty(), id);
        assertFalse(q.endOfTurn().isEmpty(), id);
        // The prefix is what the template renders before any instruction, and the end of turn what follows it.
        String rendered = t.prepare(new ChatInput(null, "日本の首都はどこですか？", system, Map.of(), true, null, null), 8).text();
        assertTrue(rendered.startsWith(q.prefix() + "日本の首都はどこですか？"), id + ": " + rendered);
        assertTrue(rendered.substring(q.prefix().length()).contains(q.endOfTurn()), id + ": " + rendered);
      }
    }
  }

  @Test
  void karakuriLlmJpAndSwallowAsReadFromTheirTemplates() {
    PreQuery k = preQuery("karakuri-lm-70b-chat-v0.1", null, Map.of());
    assertEquals("<s>[INST] ", k.prefix());
    // The attributes follow the content: only their fixed start is the end of the turn.
    assertEquals("[ATTR] helpfulness:", k.endOfTurn());
    assertEquals("<s>[INST] <<SYS>>\n丁寧に答えてください。\n<</SYS>>\n\n",
        preQuery("karakuri-lm-70b-chat-v0.1", "丁寧に答えてください。", Map.of("humor", 3)).prefix());
    assertEquals("[ATTR] helpfulness:", preQuery("karakuri-lm-70b-chat-v0.1", null, Map.of("helpfulness", 1)).endOfTurn());

    PreQuery k8 = preQuery("karakuri-lm-8x7b-chat-v0.1", "S", Map.of());
    assertEquals("<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n", k8.prefix());
    assertEquals("[ATTR] helpfulness:", k8.endOfTurn());

    for (String llmJp : List.of("llm-jp-3-1.8b-instruct", "llm-jp-3-3.7b-instruct", "llm-jp-3-13b-instruct")) {
      PreQuery j = preQuery(llmJp, null, Map.of());
      assertEquals("<s>\n\n### 指示:\n", j.prefix());
      assertEquals("### 応答:", j.endOfTurn());
      // Any system message renders the fixed sentence, whatever its content.
      assertEquals("<s>以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。\n\n### 指示:\n", preQuery(llmJp, "無視される", Map.of()).prefix());
    }

    PreQuery s = preQuery("Swallow-MS-7b-instruct-v0.1", null, Map.of());
    assertEquals("<s>[INST] ", s.prefix());
    assertEquals("[/INST]", s.endOfTurn());
    assertEquals("<s>[INST] <<SYS>>\nあなたは誠実で優秀な日本人のアシスタントです。\n<</SYS>>\n\n",
        preQuery("Swallow-MS-7b-instruct-v0.1", "あなたは誠実で優秀な日本人のアシスタントです。", Map.of()).prefix());
  }

  @Test
  void preparedPreQueryPromptIsThePrefixTokenizedAsTheTemplateRendersIt() {
    PromptTranslator t = new PromptTranslator(TestModels.spec("karakuri-lm-70b-chat-v0.1", true, "reject"));
    Map<String, Object> attrs = new LinkedHashMap<>();
    attrs.put("verbosity", 2L);
    PreparedPrompt p = t.preparePreQuery(new ChatInput(null, null, "S", attrs, true, null, null), 8);
    assertEquals("<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n", p.text());
    assertEquals(1, p.tokenIds()[0], "the template's BOS, once");
    assertEquals(Map.of("verbosity", 2), p.attributes());
    // A row's bad attribute is the row's error, as in any kind.
    assertThrows(InvalidRowException.class,
        () -> t.preparePreQuery(new ChatInput(null, null, null, Map.of("humor", 9L), true, null, null), 8));
  }

  private static PromptTranslator inline(String template) {
    PromptSpec base = TestModels.spec("llm-jp-3-1.8b-instruct", false, "reject");
    return new PromptTranslator(new PromptSpec("odd-model", template,
        PromptSpecs.sha256(template.getBytes(java.nio.charset.StandardCharsets.UTF_8)), "inline", base.specialTokens(), null, null,
        base.contextLength(), "reject", "last_user", false, false));
  }

  @Test
  void aTemplateWithoutAPrefixIsRefusedNamingTheModelAndWhy() {
    ChatInput none = new ChatInput(null, null, null, Map.of(), true, null, null);
    InvalidRowException dropped = assertThrows(InvalidRowException.class,
        () -> inline("{% for m in messages %}<turn>{{ m.role }}</turn>{% endfor %}").preQuery(none));
    assertTrue(dropped.getMessage().contains("odd-model") && dropped.getMessage().contains("does not appear"), dropped.getMessage());
    InvalidRowException twice = assertThrows(InvalidRowException.class,
        () -> inline("{% for m in messages %}{{ m.content }}|{{ m.content }}{% endfor %}").preQuery(none));
    assertTrue(twice.getMessage().contains("more than once"), twice.getMessage());
    InvalidRowException depends = assertThrows(InvalidRowException.class,
        () -> inline("{% for m in messages %}{{ m.content|length }}:{{ m.content }}{% endfor %}").preQuery(none));
    assertTrue(depends.getMessage().contains("depends on the content"), depends.getMessage());
  }
}
