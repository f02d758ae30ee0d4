package dev.jgen.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The golden renders (transformers' apply_chat_template output) and model directories to render them with. */
public final class GoldenCases {
  private static final ObjectMapper JSON = new ObjectMapper();

  private GoldenCases() {}

  public static List<JsonNode> all() {
    try (InputStream in = GoldenCases.class.getResourceAsStream("/golden-renders.json")) {
      List<JsonNode> out = new ArrayList<>();
      JSON.readTree(in).get("cases").forEach(out::add);
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A directory holding only the case's tokenizer_config.json: the model's copy from conf/templates, or one made from
   * the inline template and special tokens.
   */
  public static Path modelDir(JsonNode c, Path scratch) {
    if (c.hasNonNull("model")) {
      return TestFiles.conf().resolve("templates").resolve(c.get("model").asText());
    }
    try {
      Path dir = Files.createDirectories(scratch.resolve(c.get("id").asText()));
      ObjectNode cfg = JSON.createObjectNode();
      cfg.put("chat_template", c.get("template_inline").asText());
      c.path("special_tokens").fields().forEachRemaining(e -> cfg.set(e.getKey(), e.getValue()));
      Files.writeString(dir.resolve("tokenizer_config.json"), cfg.toString());
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
