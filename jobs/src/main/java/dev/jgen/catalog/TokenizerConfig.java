package dev.jgen.catalog;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The parts of a Hugging Face {@code tokenizer_config.json} that prompt rendering needs: the chat template(s), the
 * special tokens and the BOS/EOS flags.
 */
public final class TokenizerConfig {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] SPECIAL_KEYS = {
    "bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"
  };

  private final Map<String, String> templates;
  private final Map<String, String> specialTokens;
  private final boolean addBosToken;
  private final boolean addEosToken;

  private TokenizerConfig(Map<String, String> templates, Map<String, String> specialTokens, boolean addBos,
      boolean addEos) {
    this.templates = Collections.unmodifiableMap(templates);
    this.specialTokens = Collections.unmodifiableMap(specialTokens);
    this.addBosToken = addBos;
    this.addEosToken = addEos;
  }

  public static TokenizerConfig read(Path file) {
    try {
      return parse(Files.readString(file, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** Parses the JSON text; malformed JSON or a malformed chat_template is an IllegalArgumentException. */
  public static TokenizerConfig parse(String json) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("invalid tokenizer_config.json: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("tokenizer_config.json must hold a JSON object");
    }
    Map<String, String> templates = new LinkedHashMap<>();
    JsonNode ct = root.get("chat_template");
    if (ct != null && !ct.isNull()) {
      if (ct.isTextual()) {
        templates.put("default", ct.asText());
      } else if (ct.isArray()) {
        // transformers' format for several templates: [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
        for (JsonNode t : ct) {
          JsonNode name = t.get("name");
          JsonNode template = t.get("template");
          if (name == null || !name.isTextual() || template == null || !template.isTextual()) {
            throw new IllegalArgumentException("chat_template list entries need string 'name' and 'template'");
          }
          templates.put(name.asText(), template.asText());
        }
      } else {
        throw new IllegalArgumentException("chat_template must be a string or a list of {name, template}");
      }
    }
    Map<String, String> special = new LinkedHashMap<>();
    for (String key : SPECIAL_KEYS) {
      String v = tokenText(root.get(key));
      if (v != null) {
        special.put(key, v);
      }
    }
    return new TokenizerConfig(templates, special, bool(root, "add_bos_token", true), bool(root, "add_eos_token", false));
  }

  /** A special token is a string or an AddedToken dict {"content": "<s>", ...}; null/absent means not set. */
  private static String tokenText(JsonNode n) {
    if (n == null || n.isNull()) {
      return null;
    }
    if (n.isTextual()) {
      return n.asText();
    }
    if (n.isObject() && n.get("content") != null && n.get("content").isTextual()) {
      return n.get("content").asText();
    }
    throw new IllegalArgumentException("special token must be a string or {\"content\": ...}, got " + n);
  }

  private static boolean bool(JsonNode root, String key, boolean dflt) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) {
      return dflt;
    }
    if (!n.isBoolean()) {
      throw new IllegalArgumentException(key + " must be a boolean, got " + n);
    }
    return n.asBoolean();
  }

  /** The template named "default" (the only one when chat_template is a plain string). */
  public Optional<String> chatTemplate() {
    return chatTemplate("default");
  }

  public Optional<String> chatTemplate(String name) {
    return Optional.ofNullable(templates.get(name));
  }

  /** All templates by name, in file order. */
  public Map<String, String> chatTemplates() {
    return templates;
  }

  /** The special tokens present (bos_token, eos_token, unk_token, pad_token, sep/cls/mask_token), keyed as in the JSON. */
  public Map<String, String> specialTokens() {
    return specialTokens;
  }

  public boolean addBosToken() {
    return addBosToken;
  }

  public boolean addEosToken() {
    return addEosToken;
  }
}
