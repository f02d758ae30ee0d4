package dev.jgen.input;

import dev.jgen.prompt.InvalidRowException;
import java.text.Normalizer;
import java.util.List;
import java.util.Map;

/** Small text helpers with Python's semantics where FastChat's scripts rely on them. */
public final class Texts {
  private Texts() {}

  /** Python's {@code str.isspace()} for one char: Java's whitespace plus the no-break spaces and U+0085. */
  public static boolean isPySpace(char c) {
    return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
  }

  /** Python's {@code str.strip()}: FastChat strips every generated answer before storing it and feeding it back. */
  public static String pyStrip(String s) {
    if (s == null) {
      return null;
    }
    int b = 0;
    int e = s.length();
    while (b < e && isPySpace(s.charAt(b))) {
      b++;
    }
    while (e > b && isPySpace(s.charAt(e - 1))) {
      e--;
    }
    return s.substring(b, e);
  }

  /** Unicode NFKC, then every run of whitespace folded to one space, ends trimmed. */
  public static String normalize(String s) {
    if (s == null) {
      return null;
    }
    String n = Normalizer.normalize(s, Normalizer.Form.NFKC);
    StringBuilder out = new StringBuilder(n.length());
    boolean space = false;
    for (int i = 0; i < n.length(); i++) {
      char c = n.charAt(i);
      if (isPySpace(c)) {
        space = true;
        continue;
      }
      if (space && out.length() > 0) {
        out.append(' ');
      }
      space = false;
      out.append(c);
    }
    return out.toString();
  }
}
