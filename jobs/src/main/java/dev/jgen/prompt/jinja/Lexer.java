package dev.jgen.prompt.jinja;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a template into tokens the way Jinja2's lexer does with {@code trim_blocks=True, lstrip_blocks=True} and
 * {@code keep_trailing_newline=False}. The whitespace rules are the subtle part and follow {@code jinja2/lexer.py}
 * line by line: the text before a tag is right-stripped for {@code -}, its last line's indentation is dropped before
 * {@code {%}/{#} tags (lstrip_blocks), and one newline after {@code %}}/{@code #}} is eaten (trim_blocks).
 */
final class Lexer {

  enum Type { DATA, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

  static final class Token {
    final Type type;
    final String value;
    final Object literal;
    final int line;

    Token(Type type, String value, Object literal, int line) {
      this.type = type;
      this.value = value;
      this.literal = literal;
      this.line = line;
    }

    boolean is(Type t, String v) {
      return type == t && value.equals(v);
    }

    boolean isOp(String v) {
      return type == Type.OP && value.equals(v);
    }

    boolean isName(String v) {
      return type == Type.NAME && value.equals(v);
    }

    String describe() {
      switch (type) {
        case EOF: return "end of template";
        case BLOCK_END: return "end of statement block";
        case VAR_END: return "end of print statement";
        case BLOCK_BEGIN: return "begin of statement block";
        case VAR_BEGIN: return "begin of print statement";
        case STRING: return "string";
        case DATA: return "template data / text";
        case INT: return "integer";
        case FLOAT: return "float";
        default: return value;
      }
    }
  }

  private static final String[] OPERATORS = {
    "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=",
    ".", ":", "|", ",", ";"
  };

  private final String src;
  private final int n;
  private int pos;
  private int line = 1;
  private boolean lineStarting = true;
  private final List<Token> out = new ArrayList<>();

  private Lexer(String source) {
    this.src = normalize(source);
    this.n = src.length();
  }

  static List<Token> tokenize(String source) {
    Lexer lx = new Lexer(source);
    lx.run();
    return lx.out;
  }

  /** Jinja2 normalizes every line break to \n and drops one trailing newline (keep_trailing_newline=False). */
  private static String normalize(String s) {
    if (s.indexOf('\r') >= 0) {
      s = s.replace("\r\n", "\n").replace('\r', '\n');
    }
    if (s.endsWith("\n")) {
      s = s.substring(0, s.length() - 1);
    }
    return s;
  }

  private void run() {
    while (pos < n) {
      int tag = findTagStart(pos);
      if (tag < 0) {
        emitData(src.substring(pos), line);
        pos = n;
        break;
      }
      char kind = src.charAt(tag + 1);
      int afterOpen = tag + 2;
      char sign = afterOpen < n && (src.charAt(afterOpen) == '-' || src.charAt(afterOpen) == '+') ? src.charAt(afterOpen) : 0;
      String text = src.substring(pos, tag);
      int textLine = line;

      int rawEnd = kind == '%' ? matchRawBegin(tag) : -1;
      text = applyLeftStrip(text, sign, kind != '{');
      emitData(text, textLine);
      line += countNewlines(src, pos, tag);
      pos = afterOpen + (sign != 0 ? 1 : 0);

      if (rawEnd >= 0) {
        line += countNewlines(src, pos, rawEnd);
        pos = rawEnd;
        lineStarting = src.charAt(pos - 1) == '\n';
        lexRawBody();
      } else if (kind == '#') {
        lexComment();
      } else if (kind == '%') {
        out.add(new Token(Type.BLOCK_BEGIN, "{%", null, line));
        lexTag(true);
      } else {
        out.add(new Token(Type.VAR_BEGIN, "{{", null, line));
        lexTag(false);
      }
    }
    out.add(new Token(Type.EOF, "", null, line));
  }

  private int findTagStart(int from) {
    int i = from;
    while (true) {
      i = src.indexOf('{', i);
      if (i < 0 || i + 1 >= n) {
        return -1;
      }
      char c = src.charAt(i + 1);
      if (c == '{' || c == '%' || c == '#') {
        return i;
      }
      i++;
    }
  }

  private String applyLeftStrip(String text, char sign, boolean lstripApplies) {
    if (sign == '-') {
      return PyStr.rstrip(text);
    }
    if (sign != '+' && lstripApplies) {
      int lpos = text.lastIndexOf('\n') + 1;
      if ((lpos > 0 || lineStarting) && lpos < text.length() && allSpace(text, lpos)) {
        return text.substring(0, lpos);
      }
    }
    return text;
  }

  private static boolean allSpace(String s, int from) {
    for (int i = from; i < s.length(); i++) {
      if (!PyStr.isSpace(s.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  private void emitData(String text, int atLine) {
    if (!text.isEmpty()) {
      out.add(new Token(Type.DATA, text, null, atLine));
    }
  }

  /** Returns the end of {@code {% raw %}} (or {@code {%- raw -%}}) when the tag at {@code tag} is one, else -1. */
  private int matchRawBegin(int tag) {
    int i = tag + 2;
    if (i < n && (src.charAt(i) == '-' || src.charAt(i) == '+')) {
      i++;
    }
    i = skipSpace(i);
    if (!src.startsWith("raw", i)) {
      return -1;
    }
    i = skipSpace(i + 3);
    if (src.startsWith("-%}", i)) {
      return skipSpace(i + 3);
    }
    if (src.startsWith("%}", i)) {
      return i + 2;
    }
    return -1;
  }

  private int skipSpace(int i) {
    while (i < n && PyStr.isSpace(src.charAt(i))) {
      i++;
    }
    return i;
  }

  private void lexRawBody() {
    int search = pos;
    while (true) {
      int tag = src.indexOf("{%", search);
      if (tag < 0) {
        throw Errors.syntax("Missing end of raw directive", line);
      }
      int i = tag + 2;
      char sign = 0;
      if (i < n && (src.charAt(i) == '-' || src.charAt(i) == '+')) {
        sign = src.charAt(i);
        i++;
      }
      i = skipSpace(i);
      if (src.startsWith("endraw", i)) {
        i = skipSpace(i + 6);
        int end = matchBlockEnd(i);
        if (end >= 0) {
          String text = applyLeftStrip(src.substring(pos, tag), sign, true);
          emitData(text, line);
          line += countNewlines(src, pos, end);
          lineStarting = src.charAt(end - 1) == '\n';
          pos = end;
          return;
        }
      }
      search = tag + 2;
    }
  }

  /** Block end at i: "+%}", "-%}" plus all whitespace, or "%}" plus one newline (trim_blocks). Returns end or -1. */
  private int matchBlockEnd(int i) {
    if (src.startsWith("+%}", i)) {
      return i + 3;
    }
    if (src.startsWith("-%}", i)) {
      return skipSpace(i + 3);
    }
    if (src.startsWith("%}", i)) {
      return i + 2 < n && src.charAt(i + 2) == '\n' ? i + 3 : i + 2;
    }
    return -1;
  }

  private void lexComment() {
    {
      int close = src.indexOf("#}", pos);
      if (close < 0) {
        throw Errors.syntax("Missing end of comment tag", line);
      }
      int end;
      if (close - 1 >= pos && src.charAt(close - 1) == '-') {
        end = skipSpace(close + 2);
      } else if (close - 1 >= pos && src.charAt(close - 1) == '+') {
        end = close + 2;
      } else {
        end = close + 2 < n && src.charAt(close + 2) == '\n' ? close + 3 : close + 2;
      }
      line += countNewlines(src, pos, end);
      lineStarting = src.charAt(end - 1) == '\n';
      pos = end;
      return;
    }
  }

  private void lexTag(boolean block) {
    Deque<Character> balance = new ArrayDeque<>();
    while (true) {
      if (pos >= n) {
        return; // the parser reports the missing end tag
      }
      char c = src.charAt(pos);
      if (balance.isEmpty()) {
        if (block) {
          int end = matchBlockEnd(pos);
          if (end >= 0) {
            out.add(new Token(Type.BLOCK_END, "%}", null, line));
            line += countNewlines(src, pos, end);
            lineStarting = src.charAt(end - 1) == '\n';
            pos = end;
            return;
          }
        } else {
          if (src.startsWith("-}}", pos)) {
            out.add(new Token(Type.VAR_END, "}}", null, line));
            int end = skipSpace(pos + 3);
            line += countNewlines(src, pos, end);
            lineStarting = src.charAt(end - 1) == '\n';
            pos = end;
            return;
          }
          if (src.startsWith("}}", pos)) {
            out.add(new Token(Type.VAR_END, "}}", null, line));
            pos += 2;
            lineStarting = false;
            return;
          }
        }
      }
      if (PyStr.isSpace(c)) {
        if (c == '\n') {
          line++;
        }
        pos++;
        continue;
      }
      if (c >= '0' && c <= '9') {
        lexNumber();
        continue;
      }
      if (c == '_' || Character.isLetter(c)) {
        int start = pos;
        pos++;
        while (pos < n && (src.charAt(pos) == '_' || Character.isLetterOrDigit(src.charAt(pos)))) {
          pos++;
        }
        out.add(new Token(Type.NAME, src.substring(start, pos), null, line));
        continue;
      }
      if (c == '\'' || c == '"') {
        lexString(c);
        continue;
      }
      String op = null;
      for (String o : OPERATORS) {
        if (src.startsWith(o, pos)) {
          op = o;
          break;
        }
      }
      if (op == null) {
        throw Errors.syntax("unexpected char '" + c + "' at " + pos, line);
      }
      if (op.equals("{") || op.equals("(") || op.equals("[")) {
        balance.push(op.equals("{") ? '}' : op.equals("(") ? ')' : ']');
      } else if (op.equals("}") || op.equals(")") || op.equals("]")) {
        if (balance.isEmpty()) {
          throw Errors.syntax("unexpected '" + op + "'", line);
        }
        char expected = balance.pop();
        if (expected != op.charAt(0)) {
          throw Errors.syntax("unexpected '" + op + "', expected '" + expected + "'", line);
        }
      }
      out.add(new Token(Type.OP, op, null, line));
      pos += op.length();
    }
  }

  // jinja2/lexer.py float_re and integer_re (case-insensitive); "007" is "00" then "7", as in Jinja
  private static final Pattern FLOAT = Pattern.compile(
      "(\\d+_)*\\d+((\\.(\\d+_)*\\d+)?e[+\\-]?(\\d+_)*\\d+|\\.(\\d+_)*\\d+)", Pattern.CASE_INSENSITIVE);
  private static final Pattern INTEGER = Pattern.compile(
      "(0b(_?[0-1])+|0o(_?[0-7])+|0x(_?[\\da-f])+|[1-9](_?\\d)*|0(_?0)*)", Pattern.CASE_INSENSITIVE);

  private void lexNumber() {
    Matcher m = FLOAT.matcher(src).region(pos, n);
    if (m.lookingAt()) {
      String text = m.group().replace("_", "");
      out.add(new Token(Type.FLOAT, text, Double.parseDouble(text), line));
      pos = m.end();
      return;
    }
    m = INTEGER.matcher(src).region(pos, n);
    if (!m.lookingAt()) {
      throw Errors.syntax("unexpected char '" + src.charAt(pos) + "' at " + pos, line);
    }
    String text = m.group().replace("_", "").toLowerCase(java.util.Locale.ROOT);
    int radix = 10;
    String digits = text;
    if (text.startsWith("0b") || text.startsWith("0o") || text.startsWith("0x")) {
      radix = text.charAt(1) == 'b' ? 2 : text.charAt(1) == 'o' ? 8 : 16;
      digits = text.substring(2);
    }
    out.add(new Token(Type.INT, m.group(), PyValues.norm(new java.math.BigInteger(digits, radix)), line));
    pos = m.end();
  }

  /** Python string literal, decoded like Jinja does (unicode-escape over the raw text). */
  private void lexString(char quote) {
    int startLine = line;
    int i = pos + 1;
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (i >= n) {
        throw Errors.syntax("unexpected char '" + quote + "' at " + pos, startLine);
      }
      char c = src.charAt(i);
      if (c == quote) {
        i++;
        break;
      }
      if (c == '\n') {
        line++;
      }
      if (c != '\\') {
        sb.append(c);
        i++;
        continue;
      }
      if (i + 1 >= n) {
        throw Errors.syntax("unexpected char '" + quote + "' at " + pos, startLine);
      }
      char e = src.charAt(i + 1);
      i += 2;
      switch (e) {
        case '\n': line++; break; // line continuation
        case '\\': sb.append('\\'); break;
        case '\'': sb.append('\''); break;
        case '"': sb.append('"'); break;
        case 'a': sb.append('\u0007'); break;
        case 'b': sb.append('\b'); break;
        case 'f': sb.append('\f'); break;
        case 'n': sb.append('\n'); break;
        case 'r': sb.append('\r'); break;
        case 't': sb.append('\t'); break;
        case 'v': sb.append('\u000b'); break;
        case 'x': i = hexEscape(sb, i, 2, startLine); break;
        case 'u': i = hexEscape(sb, i, 4, startLine); break;
        case 'U': i = hexEscape(sb, i, 8, startLine); break;
        default:
          if (e >= '0' && e <= '7') {
            int v = e - '0';
            int k = 1;
            while (k < 3 && i < n && src.charAt(i) >= '0' && src.charAt(i) <= '7') {
              v = v * 8 + (src.charAt(i) - '0');
              i++;
              k++;
            }
            sb.appendCodePoint(v);
          } else {
            // Python keeps unknown escapes verbatim
            sb.append('\\').append(e);
          }
      }
    }
    out.add(new Token(Type.STRING, src.substring(pos, i), sb.toString(), startLine));
    pos = i;
  }

  private int hexEscape(StringBuilder sb, int i, int len, int atLine) {
    if (i + len > n) {
      throw Errors.syntax("truncated \\x/\\u escape in string literal", atLine);
    }
    try {
      sb.appendCodePoint(Integer.parseInt(src.substring(i, i + len), 16));
    } catch (IllegalArgumentException e) {
      throw Errors.syntax("invalid escape in string literal", atLine);
    }
    return i + len;
  }

  private static int countNewlines(String s, int from, int to) {
    int c = 0;
    for (int i = from; i < to; i++) {
      if (s.charAt(i) == '\n') {
        c++;
      }
    }
    return c;
  }
}
