package dev.jgen.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** docs/configuration.md is ConfigReference's rendering of ConfigKeys: a key added, changed or removed fails here. */
class ConfigReferenceTest {
  static Path repoFile(String relative) {
    Path up = Path.of("..").resolve(relative);
    return Files.exists(up) ? up : Path.of(relative);
  }

  @Test
  void theCommittedPageIsTheRenderedOne() throws Exception {
    Path page = repoFile(ConfigReference.PAGE);
    assertTrue(Files.exists(page), ConfigReference.PAGE + " is missing: run bin/docs to write it");
    String committed = Files.readString(page, StandardCharsets.UTF_8);
    assertEquals(ConfigReference.render(), committed, ConfigReference.PAGE + " is stale (ConfigKeys changed): run bin/docs "
        + "and commit the page");
  }

  @Test
  void everyKeyIsOnThePageWithItsAllowedValues() {
    String page = ConfigReference.render();
    for (ConfigKey k : ConfigKeys.all().values()) {
      assertTrue(page.contains("| `" + k.name() + "` |"), k.name());
    }
    assertEquals("llamacpp \\| djl-serving \\| trtllm-serve \\| echo \\| none".replace("\\|", "|"),
        ConfigReference.allowed(ConfigKeys.get(ConfigKeys.ENGINE_KIND)));
    assertEquals(">= 0", ConfigReference.allowed(ConfigKeys.get(ConfigKeys.ENGINE_THREADS)));
    assertEquals("> 0", ConfigReference.allowed(ConfigKeys.get(ConfigKeys.MAX_NEW_TOKENS)));
    assertEquals("(0, 1]", ConfigReference.allowed(ConfigKeys.get(ConfigKeys.TOP_P)));
    assertEquals("not empty", ConfigReference.allowed(ConfigKeys.get(ConfigKeys.INPUT_PATH)));
    assertEquals("", ConfigReference.allowed(ConfigKeys.get(ConfigKeys.SEED)));
  }
}
