package dev.jgen.prompt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.catalog.TokenizerConfig;
import dev.jgen.prompt.jinja.TemplateException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The golden cases rendered by Jinja2 3.1.6 as transformers configures it: every case must come out byte-identical,
 * or fail with exactly the expected {@code Kind: message}.
 */
class GoldenRendersTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> cases() throws IOException {
    try (InputStream in = GoldenRendersTest.class.getResourceAsStream("/golden-renders.json")) {
      if (in == null) {
        throw new IllegalStateException("golden-renders.json not on the test class path");
      }
      Map<String, Object> root = JSON.readValue(in, new TypeReference<Map<String, Object>>() {});
      return (List<Map<String, Object>>) root.get("cases");
    }
  }

  static Path templatesDir() {
    for (String candidate : new String[] {"../conf/templates", "conf/templates"}) {
      Path p = Path.of(candidate);
      if (Files.isDirectory(p)) {
        return p;
      }
    }
    throw new IllegalStateException("conf/templates not found from " + Path.of("").toAbsolutePath());
  }

  @SuppressWarnings("unchecked")
  static String render(Map<String, Object> c) {
    String source;
    Map<String, String> special = (Map<String, String>) c.get("special_tokens");
    if (c.containsKey("template_inline")) {
      source = (String) c.get("template_inline");
    } else {
      TokenizerConfig cfg = TokenizerConfig.read(templatesDir().resolve((String) c.get("model")).resolve("tokenizer_config.json"));
      source = cfg.chatTemplate().orElseThrow();
      if (special == null) {
        special = cfg.specialTokens();
      }
    }
    ChatTemplate t = ChatTemplate.compile(source);
    return t.render((List<Map<String, Object>>) c.get("messages"), Boolean.TRUE.equals(c.get("add_generation_prompt")),
        special, (List<Object>) c.get("tools"), (Map<String, Object>) c.get("kwargs"));
  }

  @TestFactory
  Stream<DynamicTest> goldenCases() throws IOException {
    List<Map<String, Object>> cases = cases();
    assertEquals(75, cases.size(), "golden case count");
    List<DynamicTest> tests = new ArrayList<>();
    for (Map<String, Object> c : cases) {
      tests.add(DynamicTest.dynamicTest(String.valueOf(c.get("id")), () -> {
        if (c.containsKey("expected_error")) {
          TemplateException e = assertThrows(TemplateException.class, () -> render(c));
          assertEquals(c.get("expected_error"), e.kind() + ": " + e.getMessage());
        } else {
          assertEquals(c.get("expected"), render(c));
        }
      }));
    }
    return tests.stream();
  }

  @TestFactory
  Stream<DynamicTest> modelConfigsParse() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(templatesDir())) {
      dirs.filter(d -> Files.exists(d.resolve("tokenizer_config.json"))).sorted().forEach(d -> tests.add(
          DynamicTest.dynamicTest(d.getFileName().toString(), () -> {
            TokenizerConfig cfg = TokenizerConfig.read(d.resolve("tokenizer_config.json"));
            assertTrue(cfg.chatTemplate().isPresent());
            ChatTemplate.compile(cfg.chatTemplate().get());
          })));
    }
    return tests.stream();
  }
}
