package dev.jgen.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.config.ConfigException;
import dev.jgen.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where a model's chat template comes from: its own tokenizer_config.json, else the catalog's. */
class ModelResolverTemplateTest {
  @TempDir Path tmp;

  private ResolvedModel resolve(String modelId, String ownConfig) throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("model"));
    Files.writeString(dir.resolve("tokenizer_config.json"), ownConfig);
    return new ModelResolver(TestModels.catalog(), tmp.resolve("cache")).resolve(modelId, dir.toString(), false);
  }

  @Test
  void nullChatTemplateFallsBackToTheCatalogsTemplate() throws Exception {
    ResolvedModel m = resolve("llm-jp-3-1.8b-instruct", "{\"chat_template\": null, \"bos_token\": \"<s>\"}");
    assertTrue(m.templateOrigin().startsWith("catalog:"), m.templateOrigin());
    String template = TokenizerConfig.read(m.tokenizerConfig()).chatTemplate().orElseThrow();
    assertTrue(template.contains("### 指示"), template);
  }

  @Test
  void anOwnTemplateWins() throws Exception {
    ResolvedModel m = resolve("llm-jp-3-1.8b-instruct", "{\"chat_template\": \"{{ bos_token }}own\", \"bos_token\": \"<s>\"}");
    assertTrue(m.templateOrigin().startsWith("model:"), m.templateOrigin());
    assertEquals("{{ bos_token }}own", TokenizerConfig.read(m.tokenizerConfig()).chatTemplate().orElseThrow());
  }

  @Test
  void nullChatTemplateWithoutACatalogEntryIsAConfigError() throws Exception {
    ConfigException e = assertThrows(ConfigException.class, () -> resolve(null, "{\"chat_template\": null}"));
    assertTrue(e.getMessage().contains("no chat template"), e.getMessage());
    ConfigException bad = assertThrows(ConfigException.class, () -> resolve(null, "{\"chat_template\": 5}"));
    assertTrue(bad.getMessage().contains("tokenizer_config.json"), bad.getMessage());
  }
}
