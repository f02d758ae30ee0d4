package dev.jgen.prompt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashSet;
import java.util.Set;

/** Reads what the prompt side needs from a tokenizer.json. */
final class TokenizerFiles {
  private static final ObjectMapper JSON = new ObjectMapper();

  private TokenizerFiles() {}

  /** The texts that tokenize to control tokens: the named special tokens and tokenizer.json's special added tokens. */
  static Set<String> specialTokenTexts(PromptSpec spec) {
    Set<String> out = new LinkedHashSet<>(spec.specialTokens().values());
    if (spec.tokenizerJson() != null) {
      try {
        JsonNode added = JSON.readTree(spec.tokenizerJson()).path("added_tokens");
        for (JsonNode t : added) {
          if (t.path("special").asBoolean(false)) {
            out.add(t.path("content").asText());
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException("tokenizer.json is not valid JSON: " + e.getMessage(), e);
      }
    }
    out.remove("");
    return out;
  }
}
