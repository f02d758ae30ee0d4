package dev.jgen.prompt;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the model's control text inside message content. The rendered prompt is tokenized with special-token matching
 * on (the template's own BOS/EOS must become control tokens), so a scraped {@code </s><s>[INST]} would otherwise start a
 * new turn. Modes: {@code reject} the row, {@code escape} the text so it tokenizes as plain text, or {@code allow}.
 */
public final class ContentGuard implements Serializable {
  /** Turn markers of the supported formats; only those the model's template itself writes are guarded. */
  private static final List<String> TEMPLATE_MARKERS = List.of(
      "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "[ATTR]", "[/ATTR]", "<|im_start|>", "<|im_end|>",
      "### 指示:", "### 応答:", "<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|eot_id|>", "<|start_header_id|>");
  /** Placed after a marker's first character: invisible, and no marker or added token spans it. */
  static final char WORD_JOINER = '\u2060';

  private final String mode;
  private final List<String> markers;

  public ContentGuard(String mode, Set<String> specialTokens, String templateSource) {
    this.mode = mode;
    Set<String> m = new LinkedHashSet<>();
    for (String t : specialTokens) {
      if (t != null && !t.isEmpty()) {
        m.add(t);
      }
    }
    for (String t : TEMPLATE_MARKERS) {
      if (templateSource.contains(t)) {
        m.add(t);
      }
    }
    // Longest first, so "<</SYS>>" is reported rather than a shorter marker inside it.
    List<String> sorted = new ArrayList<>(m);
    sorted.sort((a, b) -> b.length() - a.length());
    this.markers = List.copyOf(sorted);
  }

  public List<String> markers() {
    return markers;
  }

  /** Applies the mode to every string content of the messages, in place. */
  public void apply(List<Map<String, Object>> messages) {
    if (mode.equals("allow")) {
      return;
    }
    for (int i = 0; i < messages.size(); i++) {
      Map<String, Object> msg = messages.get(i);
      if (msg == null || !(msg.get("content") instanceof String content)) {
        continue;
      }
      String found = firstMarker(content);
      if (found == null) {
        continue;
      }
      if (mode.equals("reject")) {
        throw new InvalidRowException("message " + i + " (" + msg.get("role") + ") contains the model's control text '"
            + found + "' (prompt.special_tokens_in_content=reject; use escape or allow)");
      }
      msg.put("content", escape(content));
    }
  }

  String firstMarker(String content) {
    String first = null;
    int at = Integer.MAX_VALUE;
    for (String m : markers) {
      int i = content.indexOf(m);
      if (i >= 0 && i < at) {
        at = i;
        first = m;
      }
    }
    return first;
  }

  String escape(String content) {
    String out = content;
    for (String m : markers) {
      out = out.replace(m, m.charAt(0) + String.valueOf(WORD_JOINER) + m.substring(1));
    }
    return out;
  }
}
