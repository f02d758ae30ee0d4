package dev.jgen.prompt;

import dev.jgen.prompt.jinja.Template;
import dev.jgen.prompt.jinja.TemplateException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model's chat template, rendered exactly as transformers' {@code apply_chat_template(tokenize=False)} does.
 * Immutable and thread-safe: compile once per template, render per row.
 */
public final class ChatTemplate {
  private final String source;
  private final Template template;
  private final String sha256;

  private ChatTemplate(String source, Template template) {
    this.source = source;
    this.template = template;
    this.sha256 = sha256Hex(source);
  }

  /** Compiles {@code source}; a syntax error is a {@link TemplateException} whose message names the line. */
  public static ChatTemplate compile(String source) {
    Objects.requireNonNull(source, "source");
    return new ChatTemplate(source, Template.compile(source));
  }

  public String source() {
    return source;
  }

  /** Hex SHA-256 of the UTF-8 source, to record which template produced a prompt. */
  public String sha256() {
    return sha256;
  }

  /**
   * Renders as transformers' apply_chat_template(tokenize=False): context = {**specialTokens, "messages", "tools",
   * "documents": None, "add_generation_prompt", **kwargs}. Message maps are passed through unchanged (extra keys
   * included). A failure, including the template's own {@code raise_exception(msg)} (kind {@code TemplateError},
   * message {@code msg}), is a {@link TemplateException}; no partial output is ever returned.
   */
  public String render(List<Map<String, Object>> messages, boolean addGenerationPrompt,
      Map<String, String> specialTokens, List<Object> tools, Map<String, Object> kwargs) {
    Map<String, Object> ctx = new HashMap<>();
    if (specialTokens != null) {
      ctx.putAll(specialTokens);
    }
    ctx.put("messages", messages);
    ctx.put("tools", tools);
    ctx.put("documents", null);
    ctx.put("add_generation_prompt", addGenerationPrompt);
    if (kwargs != null) {
      ctx.putAll(kwargs);
    }
    return template.render(ctx);
  }

  private static String sha256Hex(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      StringBuilder sb = new StringBuilder(64);
      for (byte b : d) {
        sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
      }
      return sb.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
