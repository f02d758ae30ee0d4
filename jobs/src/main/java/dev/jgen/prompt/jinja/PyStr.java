package dev.jgen.prompt.jinja;

import java.util.ArrayList;
import java.util.List;

/**
 * Python {@code str} semantics over Java strings. Python indexes strings by code point while Java uses UTF-16 units,
 * so every index-based operation goes through code point offsets (the fast path is taken when no surrogates occur).
 */
final class PyStr {
  private PyStr() {}

  /**
   * Python's {@code str.isspace()} set, which {@code str.strip()/split()} and the {@code \s} of Jinja's lexer use. It
   * is wider than Java's {@link Character#isWhitespace}: it includes U+00A0, U+2007, U+202F and U+0085.
   */
  static boolean isSpace(int c) {
    if (c <= 0x20) {
      return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
    }
    if (c < 0x85) {
      return false;
    }
    return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029
        || c == 0x202f || c == 0x205f || c == 0x3000;
  }

  static boolean hasSurrogates(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (Character.isSurrogate(s.charAt(i))) {
        return true;
      }
    }
    return false;
  }

  static int len(String s) {
    return s.codePointCount(0, s.length());
  }

  /** Code points as one-character strings, the way iterating a Python str yields them. */
  static List<Object> chars(String s) {
    List<Object> out = new ArrayList<>(s.length());
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      int k = Character.charCount(cp);
      out.add(s.substring(i, i + k));
      i += k;
    }
    return out;
  }

  /** UTF-16 offset of code point index {@code cpIndex} (clamped to the string). */
  static int offset(String s, int cpIndex) {
    if (!hasSurrogates(s)) {
      return Math.max(0, Math.min(cpIndex, s.length()));
    }
    int total = len(s);
    return s.offsetByCodePoints(0, Math.max(0, Math.min(cpIndex, total)));
  }

  static int cpIndex(String s, int offset) {
    return s.codePointCount(0, offset);
  }

  static String strip(String s, String chars) {
    return rstrip(lstrip(s, chars), chars);
  }

  static String rstrip(String s) {
    return rstrip(s, null);
  }

  static String lstrip(String s, String chars) {
    int i = 0;
    while (i < s.length()) {
      int cp = s.codePointAt(i);
      if (!stripMatch(cp, chars)) {
        break;
      }
      i += Character.charCount(cp);
    }
    return s.substring(i);
  }

  static String rstrip(String s, String chars) {
    int i = s.length();
    while (i > 0) {
      int cp = s.codePointBefore(i);
      if (!stripMatch(cp, chars)) {
        break;
      }
      i -= Character.charCount(cp);
    }
    return s.substring(0, i);
  }

  private static boolean stripMatch(int cp, String chars) {
    return chars == null ? isSpace(cp) : chars.indexOf(cp) >= 0;
  }

  /** {@code str.split(sep, maxsplit)}; a null sep splits on whitespace runs and drops empty ends. */
  static List<Object> split(String s, String sep, int maxsplit) {
    List<Object> out = new ArrayList<>();
    if (sep == null) {
      int i = 0;
      int n = s.length();
      while (true) {
        while (i < n && isSpace(s.charAt(i))) {
          i++;
        }
        if (i >= n) {
          break;
        }
        if (maxsplit >= 0 && out.size() == maxsplit) {
          out.add(rstrip(s.substring(i)));
          break;
        }
        int j = i;
        while (j < n && !isSpace(s.charAt(j))) {
          j++;
        }
        out.add(s.substring(i, j));
        i = j;
      }
      return out;
    }
    if (sep.isEmpty()) {
      throw Errors.value("empty separator");
    }
    int i = 0;
    while (maxsplit < 0 || out.size() < maxsplit) {
      int j = s.indexOf(sep, i);
      if (j < 0) {
        break;
      }
      out.add(s.substring(i, j));
      i = j + sep.length();
    }
    out.add(s.substring(i));
    return out;
  }

  static List<Object> rsplit(String s, String sep, int maxsplit) {
    if (maxsplit < 0) {
      return split(s, sep, -1);
    }
    List<Object> out = new ArrayList<>();
    if (sep == null) {
      int j = s.length();
      while (true) {
        while (j > 0 && isSpace(s.charAt(j - 1))) {
          j--;
        }
        if (j <= 0) {
          break;
        }
        if (out.size() == maxsplit) {
          out.add(0, lstrip(s.substring(0, j), null));
          break;
        }
        int i = j;
        while (i > 0 && !isSpace(s.charAt(i - 1))) {
          i--;
        }
        out.add(0, s.substring(i, j));
        j = i;
      }
      return out;
    }
    if (sep.isEmpty()) {
      throw Errors.value("empty separator");
    }
    int end = s.length();
    while (out.size() < maxsplit) {
      int j = s.lastIndexOf(sep, end - sep.length());
      if (j < 0) {
        break;
      }
      out.add(0, s.substring(j + sep.length(), end));
      end = j;
    }
    out.add(0, s.substring(0, end));
    return out;
  }

  private static boolean isLineBreak(char c) {
    return c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e || c == 0x85
        || c == 0x2028 || c == 0x2029;
  }

  static List<Object> splitlines(String s, boolean keepends) {
    List<Object> out = new ArrayList<>();
    int i = 0;
    int n = s.length();
    while (i < n) {
      int j = i;
      while (j < n && !isLineBreak(s.charAt(j))) {
        j++;
      }
      int eol = j;
      if (j < n) {
        j += (s.charAt(j) == '\r' && j + 1 < n && s.charAt(j + 1) == '\n') ? 2 : 1;
      }
      out.add(s.substring(i, keepends ? j : eol));
      i = j;
    }
    return out;
  }

  private static boolean isCased(int cp) {
    return Character.isUpperCase(cp) || Character.isLowerCase(cp) || Character.isTitleCase(cp);
  }

  /** Python's {@code str.title()}: a cased character after an uncased one starts a word. */
  static String title(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    boolean prevCased = false;
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      i += Character.charCount(cp);
      if (isCased(cp)) {
        sb.append(prevCased ? new String(Character.toChars(cp)).toLowerCase(java.util.Locale.ROOT) : titleCase(cp));
        prevCased = true;
      } else {
        sb.appendCodePoint(cp);
        prevCased = false;
      }
    }
    return sb.toString();
  }

  private static String titleCase(int cp) {
    int t = Character.toTitleCase(cp);
    if (t == cp && Character.isLowerCase(cp)) {
      return new String(Character.toChars(cp)).toUpperCase(java.util.Locale.ROOT);
    }
    return new String(Character.toChars(t));
  }

  static String capitalize(String s) {
    if (s.isEmpty()) {
      return s;
    }
    int cp = s.codePointAt(0);
    int k = Character.charCount(cp);
    return titleCase(cp) + s.substring(k).toLowerCase(java.util.Locale.ROOT);
  }

  static String lower(String s) {
    return s.toLowerCase(java.util.Locale.ROOT);
  }

  static String upper(String s) {
    return s.toUpperCase(java.util.Locale.ROOT);
  }

  static String replace(String s, String old, String repl, int count) {
    if (count < 0) {
      if (old.isEmpty()) {
        StringBuilder sb = new StringBuilder(repl);
        for (Object c : chars(s)) {
          sb.append(c).append(repl);
        }
        return sb.toString();
      }
      return s.replace(old, repl);
    }
    StringBuilder sb = new StringBuilder();
    int i = 0;
    int done = 0;
    if (old.isEmpty()) {
      List<Object> cs = chars(s);
      for (int k = 0; k < cs.size(); k++) {
        if (done < count) {
          sb.append(repl);
          done++;
        }
        sb.append(cs.get(k));
      }
      if (done < count) {
        sb.append(repl);
      }
      return sb.toString();
    }
    while (done < count) {
      int j = s.indexOf(old, i);
      if (j < 0) {
        break;
      }
      sb.append(s, i, j).append(repl);
      i = j + old.length();
      done++;
    }
    sb.append(s.substring(i));
    return sb.toString();
  }

  /** Python slice bounds [start, stop) normalized to code point indices of {@code s}, then cut in UTF-16. */
  static String substring(String s, int cpStart, int cpEnd) {
    if (cpEnd <= cpStart) {
      return "";
    }
    return s.substring(offset(s, cpStart), offset(s, cpEnd));
  }

  static String center(String s, int width, String fill) {
    int len = len(s);
    if (width <= len) {
      return s;
    }
    int marg = width - len;
    int left = marg / 2 + (marg & width & 1);
    return fill.repeat(left) + s + fill.repeat(marg - left);
  }

  static String zfill(String s, int width) {
    int len = len(s);
    if (width <= len) {
      return s;
    }
    String pad = "0".repeat(width - len);
    if (!s.isEmpty() && (s.charAt(0) == '+' || s.charAt(0) == '-')) {
      return s.charAt(0) + pad + s.substring(1);
    }
    return pad + s;
  }

  /** Python's {@code repr()} of a str: single quotes unless the text holds ' and no ". */
  static String repr(String s) {
    char q = (s.indexOf('\'') >= 0 && s.indexOf('"') < 0) ? '"' : '\'';
    StringBuilder sb = new StringBuilder(s.length() + 2);
    sb.append(q);
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      i += Character.charCount(cp);
      if (cp == q || cp == '\\') {
        sb.append('\\').appendCodePoint(cp);
      } else if (cp == '\n') {
        sb.append("\\n");
      } else if (cp == '\r') {
        sb.append("\\r");
      } else if (cp == '\t') {
        sb.append("\\t");
      } else if (isPrintable(cp)) {
        sb.appendCodePoint(cp);
      } else if (cp <= 0xff) {
        sb.append(String.format("\\x%02x", cp));
      } else if (cp <= 0xffff) {
        sb.append(String.format("\\u%04x", cp));
      } else {
        sb.append(String.format("\\U%08x", cp));
      }
    }
    return sb.append(q).toString();
  }

  private static boolean isPrintable(int cp) {
    if (cp == ' ') {
      return true;
    }
    switch (Character.getType(cp)) {
      case Character.CONTROL:
      case Character.FORMAT:
      case Character.SURROGATE:
      case Character.PRIVATE_USE:
      case Character.UNASSIGNED:
      case Character.LINE_SEPARATOR:
      case Character.PARAGRAPH_SEPARATOR:
      case Character.SPACE_SEPARATOR:
        return false;
      default:
        return true;
    }
  }

  static int compare(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int ca = a.codePointAt(i);
      int cb = b.codePointAt(j);
      if (ca != cb) {
        return Integer.compare(ca, cb);
      }
      i += Character.charCount(ca);
      j += Character.charCount(cb);
    }
    return Boolean.compare(i < a.length(), j < b.length());
  }
}
