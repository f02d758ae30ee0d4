package dev.jgen.prompt;

import dev.jgen.prompt.jinja.InternalRenderException;
import dev.jgen.prompt.jinja.TemplateException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns a row's conversation into what an engine runs: messages -> the model's chat template -> token ids. Kept apart
 * from generation the way DJL keeps a {@code Translator} apart from its {@code Predictor}: the same translator serves
 * the llama.cpp engine, the DJL Serving client, the dry run and {@code jgen render}.
 */
public final class PromptTranslator {
  private static final Map<List<Object>, PromptTranslator> SHARED = new ConcurrentHashMap<>();

  private final PromptSpec spec;
  private final ChatTemplate template;
  private final HfTokenizer tokenizer;
  private final ContentGuard guard;

  public PromptTranslator(PromptSpec spec) {
    this.spec = spec;
    this.template = ChatTemplate.compile(spec.templateSource());
    this.tokenizer = spec.tokenizerJson() == null ? null : HfTokenizer.shared(spec.tokenizerSha256(), spec.tokenizerJson());
    this.guard = new ContentGuard(spec.specialTokensInContent(), TokenizerFiles.specialTokenTexts(spec), spec.templateSource());
  }

  /**
   * The JVM's translator for this spec: the template is compiled and the tokenizer loaded once per executor. The key
   * holds everything that changes a render or its checks (issue 12): two models with the same template text but
   * different special tokens (BOS/EOS) or tokenizers must never share a translator.
   */
  public static PromptTranslator shared(PromptSpec spec) {
    return SHARED.computeIfAbsent(cacheKey(spec), k -> new PromptTranslator(spec));
  }

  /** Every PromptSpec field by value (the tokenizer by its hash); a List, so no separator can make two keys collide. */
  static List<Object> cacheKey(PromptSpec spec) {
    return java.util.Arrays.asList(spec.modelId(), spec.templateSource(), spec.templateOrigin(),
        spec.specialTokens() == null ? null : new java.util.TreeMap<>(spec.specialTokens()), spec.tokenizerSha256(),
        spec.tokenizerJson() == null ? null : spec.tokenizerJson().length, spec.contextLength(),
        spec.specialTokensInContent(), spec.attributesApplyTo(), spec.templateReadsAttributes(),
        spec.templateIgnoresSystem());
  }

  public PromptSpec spec() {
    return spec;
  }

  public boolean canTokenize() {
    return tokenizer != null;
  }

  /**
   * Renders and tokenizes one row.
   *
   * @param maxNewTokens the row's generation budget, checked against the context together with the prompt
   * @throws InvalidRowException for anything about the row that prevents an exact prompt
   * @throws InternalRenderException for a bug of the template interpreter (not the row's fault: a run error)
   */
  public PreparedPrompt prepare(ChatInput in, int maxNewTokens) {
    List<String> warnings = new ArrayList<>();
    Map<String, Integer> attributes = new LinkedHashMap<>();
    String text = render(in, warnings, attributes);
    return tokenized(text, maxNewTokens, attributes, warnings);
  }

  /**
   * The Magpie pre-query prompt of a row (its {@code system} and attribute columns; its prompt and messages are not
   * read): the template's text up to where a user message's content begins, tokenized, as {@link #prepare} would give
   * it. The engine writes the user's instruction from there.
   *
   * @throws InvalidRowException when the template has no such prefix for this row (see {@link PreQuery})
   */
  public PreparedPrompt preparePreQuery(ChatInput in, int maxNewTokens) {
    List<String> warnings = new ArrayList<>();
    Map<String, Integer> attributes = new LinkedHashMap<>();
    PreQuery q = preQuery(in, warnings, attributes);
    return tokenized(q.prefix(), maxNewTokens, attributes, warnings);
  }

  /** The pre-query prefix and end-of-turn text of a row's system and attributes (see {@link PreQuery}). */
  public PreQuery preQuery(ChatInput in) {
    return preQuery(in, new ArrayList<>(), new LinkedHashMap<>());
  }

  private PreQuery preQuery(ChatInput in, List<String> warnings, Map<String, Integer> attributes) {
    java.util.function.BiFunction<String, Map<String, Object>, String> render = (content, attrs) -> render(
        new ChatInput(null, content, in.system(), attrs, true, in.kwargs(), in.tools()), warnings, attributes);
    Map<String, Object> attrs = in.attributeColumns() == null ? Map.of() : in.attributeColumns();
    return PreQuery.derive(spec.modelId(), render, attrs);
  }

  private PreparedPrompt tokenized(String text, int maxNewTokens, Map<String, Integer> attributes, List<String> warnings) {
    int[] ids = null;
    if (tokenizer != null) {
      ids = tokenizer.encode(text);
      int room = spec.contextLength() - maxNewTokens;
      if (ids.length > room) {
        throw new InvalidRowException("prompt is " + ids.length + " tokens; the context of " + spec.contextLength()
            + " tokens minus max_new_tokens " + maxNewTokens + " leaves " + Math.max(room, 0));
      }
    }
    return new PreparedPrompt(text, ids, attributes, warnings);
  }

  /** Renders a row (no tokenizing): its warnings and validated attributes are added to the given collections. */
  private String render(ChatInput in, List<String> warnings, Map<String, Integer> attributesOut) {
    warnings.clear();
    attributesOut.clear();
    List<Map<String, Object>> messages = messages(in);
    Map<String, Integer> attributes = SteerLmAttributes.validate(in.attributeColumns() == null ? Map.of() : in.attributeColumns());
    if (!attributes.isEmpty()) {
      applyAttributes(messages, attributes);
      if (!spec.templateReadsAttributes()) {
        warnings.add("model " + spec.modelId() + ": its template ignores SteerLM attributes; attribute columns have no effect");
      }
    }
    if (spec.templateIgnoresSystem() && messages.stream().anyMatch(m -> "system".equals(m.get("role")))) {
      warnings.add("model " + spec.modelId() + ": its template ignores the system message's content");
    }
    for (int i = 0; i < messages.size(); i++) {
      int bad = unpairedSurrogate((String) messages.get(i).get("content"));
      if (bad >= 0) {
        throw new InvalidRowException("message " + i + " (" + messages.get(i).get("role") + "): broken text, an unpaired UTF-16 "
            + "surrogate at character " + bad);
      }
    }
    guard.apply(messages);
    attributesOut.putAll(attributes);
    try {
      return template.render(messages, in.addGenerationPrompt(), spec.specialTokens(), in.tools(), in.kwargs());
    } catch (TemplateException e) {
      throw new InvalidRowException("chat template: " + e.pythonStyle());
    }
  }

  /** Index of the first lone surrogate (text no tokenizer can encode faithfully), or -1. */
  static int unpairedSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
          continue;
        }
        return i;
      }
      if (Character.isLowSurrogate(c)) {
        return i;
      }
    }
    return -1;
  }

  private static List<Map<String, Object>> messages(ChatInput in) {
    List<Map<String, Object>> out = new ArrayList<>();
    boolean hasMessages = in.messages() != null && !in.messages().isEmpty();
    boolean hasPrompt = in.prompt() != null;
    if (hasMessages && hasPrompt) {
      throw new InvalidRowException("both prompt and messages are set; give one");
    }
    if (!hasMessages && !hasPrompt) {
      throw new InvalidRowException(in.messages() != null ? "messages is empty" : "neither prompt nor messages is set");
    }
    if (hasPrompt) {
      if (in.prompt().isBlank()) {
        throw new InvalidRowException("prompt is empty");
      }
      out.add(message("user", in.prompt()));
    } else {
      for (int i = 0; i < in.messages().size(); i++) {
        Map<String, Object> m = in.messages().get(i);
        if (m == null) {
          throw new InvalidRowException("messages[" + i + "] is null");
        }
        if (!(m.get("role") instanceof String role) || role.isBlank()) {
          throw new InvalidRowException("messages[" + i + "] has no role");
        }
        if (!(m.get("content") instanceof String)) {
          throw new InvalidRowException("messages[" + i + "] (" + role + ") has no content");
        }
        // Message dicts pass through with their extra keys, as in transformers; null keys are left out (a null
        // attribute means "the model's default", which a None would not give), and attribute keys must be 0-4.
        Map<String, Object> copy = new LinkedHashMap<>();
        int index = i;
        m.forEach((k, v) -> {
          if (v != null) {
            copy.put(k, SteerLmAttributes.NAMES.contains(k) ? levelInMessage(index, k, v) : v);
          }
        });
        out.add(copy);
      }
    }
    if (in.system() != null) {
      if ("system".equals(out.get(0).get("role"))) {
        throw new InvalidRowException("both the system column and a system message are set; give one");
      }
      out.add(0, message("system", in.system()));
    }
    return out;
  }

  private static int levelInMessage(int index, String key, Object v) {
    try {
      return SteerLmAttributes.toLevel(key, v);
    } catch (InvalidRowException e) {
      throw new InvalidRowException("messages[" + index + "]." + e.getMessage().substring("attribute ".length()));
    }
  }

  /**
   * Renders exactly as transformers' apply_chat_template would, messages passed through untouched (nulls included),
   * and tokenizes: what {@code jgen render} previews. No row checks beyond the template's own.
   */
  public PreparedPrompt renderVerbatim(ChatInput in) {
    List<Map<String, Object>> messages = new ArrayList<>();
    for (Map<String, Object> m : in.messages()) {
      messages.add(m == null ? null : new LinkedHashMap<>(m));
    }
    guard.apply(messages);
    String text;
    try {
      text = template.render(messages, in.addGenerationPrompt(), spec.specialTokens(), in.tools(), in.kwargs());
    } catch (TemplateException e) {
      throw new InvalidRowException("chat template: " + e.pythonStyle());
    }
    return new PreparedPrompt(text, tokenizer == null ? null : tokenizer.encode(text), Map.of(), List.of());
  }

  private void applyAttributes(List<Map<String, Object>> messages, Map<String, Integer> attributes) {
    int last = -1;
    for (int i = 0; i < messages.size(); i++) {
      if ("user".equals(messages.get(i).get("role"))) {
        last = i;
        if (spec.attributesApplyTo().equals("all_user")) {
          messages.get(i).putAll(attributes);
        }
      }
    }
    if (last < 0) {
      throw new InvalidRowException("attribute columns are set but the conversation has no user message");
    }
    messages.get(last).putAll(attributes);
  }

  private static Map<String, Object> message(String role, String content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }
}
