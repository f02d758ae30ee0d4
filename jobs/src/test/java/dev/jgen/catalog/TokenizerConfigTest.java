package dev.jgen.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TokenizerConfigTest {

  @Test
  void namedTemplateListAndAddedTokens() {
    TokenizerConfig cfg = TokenizerConfig.parse("{"
        + "\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D\"},"
        + " {\"name\": \"rag\", \"template\": \"R\"}],"
        + "\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<s>\", \"lstrip\": false, \"normalized\": false},"
        + "\"eos_token\": \"</s>\", \"unk_token\": {\"content\": \"<unk>\"}, \"pad_token\": null,"
        + "\"add_bos_token\": false, \"add_eos_token\": true}");
    assertEquals("D", cfg.chatTemplate().orElseThrow());
    assertEquals("T", cfg.chatTemplate("tool_use").orElseThrow());
    assertEquals("R", cfg.chatTemplate("rag").orElseThrow());
    assertTrue(cfg.chatTemplate("nope").isEmpty());
    assertEquals(List.of("tool_use", "default", "rag"), List.copyOf(cfg.chatTemplates().keySet()));
    assertEquals(Map.of("bos_token", "<s>", "eos_token", "</s>", "unk_token", "<unk>"), cfg.specialTokens());
    assertFalse(cfg.addBosToken());
    assertTrue(cfg.addEosToken());
  }

  @Test
  void plainStringTemplateAndLlamaDefaults() {
    TokenizerConfig cfg = TokenizerConfig.parse("{\"chat_template\": \"{{ bos_token }}\", \"bos_token\": \"<s>\","
        + " \"cls_token\": \"<CLS>\", \"mask_token\": \"<MASK>\"}");
    assertEquals("{{ bos_token }}", cfg.chatTemplate().orElseThrow());
    assertEquals(Map.of("bos_token", "<s>", "cls_token", "<CLS>", "mask_token", "<MASK>"), cfg.specialTokens());
    assertTrue(cfg.addBosToken());
    assertFalse(cfg.addEosToken());
    assertTrue(TokenizerConfig.parse("{}").chatTemplate().isEmpty());
  }

  @Test
  void malformedConfigsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> TokenizerConfig.parse("{not json"));
    assertThrows(IllegalArgumentException.class, () -> TokenizerConfig.parse("{\"chat_template\": 5}"));
    assertThrows(IllegalArgumentException.class, () -> TokenizerConfig.parse("{\"add_bos_token\": \"yes\"}"));
  }
}
