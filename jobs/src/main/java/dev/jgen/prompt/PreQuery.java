package dev.jgen.prompt;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * A template's Magpie pre-query prompt (Xu et al. 2024, "Magpie: Alignment Data Synthesis from Scratch"), derived from
 * the chat template itself, never written by hand per model: a conversation of one user message (after the row's
 * system message, with its attributes) is rendered with a sentinel as the user's content, and cut where the sentinel
 * begins. What the template renders right after the content, up to the end of its first line, is the user turn's
 * end: the model writing an instruction is stopped there (or at its end-of-sequence token).
 *
 * <p>The prefix exists only when the sentinel appears exactly once and the text before it does not depend on the
 * content (checked with a second, different sentinel); the end-of-turn text is the part of the text after the content
 * that depends neither on the content nor on the attribute values (a KARAKURI template writes its attributes there).
 *
 * @param prefix the rendered text up to the user's content: the prompt the instruction is written from
 * @param endOfTurn the template's text that follows a user message's content (stripped, first line), a stop string;
 *     empty when the template writes nothing there
 */
public record PreQuery(String prefix, String endOfTurn) {
  static final String SENTINEL_A = "JGENxMAGPIExQUERYxSENTINELxA";
  static final String SENTINEL_B = "qq-jgen-other-sentinel-7";

  /**
   * @param render renders a conversation of the row's system message and one user message with the given content and
   *     attribute columns, with the generation prompt; the last call is the row's own (its warnings stand)
   * @throws InvalidRowException naming the model when the template has no pre-query prefix
   */
  static PreQuery derive(String modelId, BiFunction<String, Map<String, Object>, String> render, Map<String, Object> attributes) {
    String why = "the chat template of " + modelId + " has no Magpie pre-query prefix: ";
    String b = render.apply(SENTINEL_B, attributes);
    // Attribute values of every kind, so the part of the suffix that depends on them is found (0 and 1 differ from any).
    Map<String, Object> zeros = new LinkedHashMap<>();
    Map<String, Object> ones = new LinkedHashMap<>();
    for (String name : SteerLmAttributes.NAMES) {
      zeros.put(name, 0);
      ones.put(name, 1);
    }
    String z;
    String o;
    try {
      z = render.apply(SENTINEL_A, zeros);
      o = render.apply(SENTINEL_A, ones);
    } catch (InvalidRowException e) {
      z = null; // a template that refuses attributes: the suffix is read from the row's render alone
      o = null;
    }
    String a = render.apply(SENTINEL_A, attributes);
    int at = a.indexOf(SENTINEL_A);
    if (at < 0) {
      throw new InvalidRowException(why + "a user message's content does not appear in what it renders");
    }
    if (a.indexOf(SENTINEL_A, at + 1) >= 0) {
      throw new InvalidRowException(why + "it renders a user message's content more than once");
    }
    String prefix = a.substring(0, at);
    int bt = b.indexOf(SENTINEL_B);
    if (bt < 0 || !b.substring(0, bt).equals(prefix)) {
      throw new InvalidRowException(why + "the text before a user message's content depends on the content");
    }
    String suffix = a.substring(at + SENTINEL_A.length());
    String fixed = commonPrefix(suffix, b.substring(bt + SENTINEL_B.length()));
    for (String other : new String[] {z, o}) {
      if (other != null && other.indexOf(SENTINEL_A) >= 0) {
        fixed = commonPrefix(fixed, other.substring(other.indexOf(SENTINEL_A) + SENTINEL_A.length()));
      }
    }
    String end = Texts.strip(fixed);
    int nl = end.indexOf('\n');
    if (nl >= 0) {
      end = Texts.strip(end.substring(0, nl));
    }
    return new PreQuery(prefix, end);
  }

  private static String commonPrefix(String x, String y) {
    int n = Math.min(x.length(), y.length());
    int i = 0;
    while (i < n && x.charAt(i) == y.charAt(i)) {
      i++;
    }
    // Never cut a surrogate pair.
    if (i > 0 && i < x.length() && Character.isHighSurrogate(x.charAt(i - 1))) {
      i--;
    }
    return x.substring(0, i);
  }

  /** Python's str.strip() on whitespace, here without the input package (a layer above). */
  private static final class Texts {
    static String strip(String s) {
      int b = 0;
      int e = s.length();
      while (b < e && Character.isWhitespace(s.charAt(b))) {
        b++;
      }
      while (e > b && Character.isWhitespace(s.charAt(e - 1))) {
        e--;
      }
      return s.substring(b, e);
    }
  }
}
