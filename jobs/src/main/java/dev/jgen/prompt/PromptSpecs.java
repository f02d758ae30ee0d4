package dev.jgen.prompt;

import dev.jgen.catalog.ResolvedModel;
import dev.jgen.catalog.TokenizerConfig;
import dev.jgen.config.ConfigException;
import dev.jgen.prompt.jinja.TemplateException;
import java.io.IOException;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builds the {@link PromptSpec} of a resolved model on the driver, probing what its template does with its inputs. */
public final class PromptSpecs {
  private PromptSpecs() {}

  public static PromptSpec forModel(ResolvedModel model, int contextLength, String specialTokensInContent, String attributesApplyTo) {
    TokenizerConfig tc;
    try {
      tc = TokenizerConfig.read(model.tokenizerConfig());
    } catch (RuntimeException e) {
      throw new ConfigException("model " + model.modelId() + ": cannot read " + model.tokenizerConfig() + ": " + e.getMessage(), e);
    }
    String source = tc.chatTemplate().orElseThrow(() ->
        new ConfigException("model " + model.modelId() + ": " + model.tokenizerConfig() + " has no chat_template"));
    ChatTemplate template;
    try {
      template = ChatTemplate.compile(source);
    } catch (TemplateException e) {
      throw new ConfigException("model " + model.modelId() + ": chat template does not compile: " + e.getMessage(), e);
    }
    byte[] tokenizer = null;
    String tokenizerSha = null;
    if (model.tokenizerJson() != null) {
      try {
        tokenizer = Files.readAllBytes(model.tokenizerJson());
      } catch (IOException e) {
        throw new ConfigException("model " + model.modelId() + ": cannot read " + model.tokenizerJson() + ": " + e.getMessage(), e);
      }
      tokenizerSha = sha256(tokenizer);
    }
    Map<String, String> special = new LinkedHashMap<>(tc.specialTokens());
    return new PromptSpec(model.modelId(), source, template.sha256(), model.templateOrigin(), special, tokenizer, tokenizerSha,
        contextLength, specialTokensInContent, attributesApplyTo, readsAttributes(template, special), ignoresSystem(template, special));
  }

  /** True when setting every attribute on the user turn changes the rendered prompt. */
  static boolean readsAttributes(ChatTemplate t, Map<String, String> special) {
    Map<String, Object> plain = msg("user", "probe");
    Map<String, Object> steered = msg("user", "probe");
    SteerLmAttributes.NAMES.forEach(a -> steered.put(a, 1));
    return !same(t, List.of(plain), List.of(steered), special);
  }

  /** True when two different system texts render the same prompt. */
  static boolean ignoresSystem(ChatTemplate t, Map<String, String> special) {
    return same(t, List.of(msg("system", "probe-A"), msg("user", "probe")), List.of(msg("system", "probe-B"), msg("user", "probe")), special);
  }

  private static boolean same(ChatTemplate t, List<Map<String, Object>> a, List<Map<String, Object>> b, Map<String, String> special) {
    try {
      return t.render(new ArrayList<>(a), true, special, null, null).equals(t.render(new ArrayList<>(b), true, special, null, null));
    } catch (TemplateException e) {
      return false;
    }
  }

  private static Map<String, Object> msg(String role, String content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }

  public static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
