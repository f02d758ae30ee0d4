package dev.jgen.structured;

import java.util.List;
import java.util.regex.Pattern;

/**
 * GBNF, llama.cpp's grammar language: the literal escaping its parser reads ({@code parse_char} in llama.cpp's
 * grammar parser: {@code \\ \" \n \r \t \xHH}; other UTF-8 passes as is) and the one check the JVM can make before
 * llama.cpp sees a grammar. Everything else about a grammar is judged by llama.cpp itself.
 */
public final class Gbnf {
  private static final Pattern ROOT = Pattern.compile("(?m)^\\s*root\\s*::=");

  private Gbnf() {}

  /** Null when the grammar defines {@code root} (llama.cpp starts there and refuses a grammar without it). */
  static String check(String grammar) {
    return ROOT.matcher(grammar).find() ? null
        : "the grammar has no root rule (llama.cpp starts from 'root ::= ...'); got: " + abbreviate(grammar);
  }

  /** A GBNF string literal that matches exactly {@code s}. */
  public static String literal(String s) {
    StringBuilder b = new StringBuilder("\"");
    s.codePoints().forEach(cp -> {
      switch (cp) {
        case '\\' -> b.append("\\\\");
        case '"' -> b.append("\\\"");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (cp < 0x20 || cp == 0x7f) {
            b.append(String.format("\\x%02X", cp));
          } else {
            b.appendCodePoint(cp);
          }
        }
      }
    });
    return b.append('"').toString();
  }

  /** A grammar whose language is exactly the given strings: {@code root ::= "a" | "b"}. */
  public static String forChoices(List<String> choices) {
    StringBuilder b = new StringBuilder("root ::= ");
    for (int i = 0; i < choices.size(); i++) {
      b.append(i == 0 ? "" : " | ").append(literal(choices.get(i)));
    }
    return b.append('\n').toString();
  }

  private static String abbreviate(String s) {
    String one = s.replace('\n', ' ').strip();
    return one.length() > 60 ? one.substring(0, 57) + "..." : one;
  }
}
