package dev.jgen.prompt.jinja;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;

/** Python's printf-style {@code str % args} (also the {@code format} filter) and a subset of {@code str.format}. */
final class PyFormat {
  private PyFormat() {}

  static String percent(String fmt, Object args) {
    return percent(fmt, args, false);
  }

  /**
   * {@code fmt % args}; with {@code escape} as {@code Markup.__mod__} has it: every argument is a
   * _MarkupEscapeHelper, whose {@code __str__} and {@code __repr__} are the escaped str and repr of the value (a Markup
   * stays as it is), while {@code %d}/{@code %f} read the number itself.
   */
  static String percent(String fmt, Object args, boolean escape) {
    List<?> positional = args instanceof PyTuple ? (PyTuple) args : null;
    Map<?, ?> mapping = args instanceof Map ? (Map<?, ?>) args : null;
    int next = 0;
    boolean single = positional == null;
    boolean usedSingle = false;
    StringBuilder sb = new StringBuilder();
    int n = fmt.length();
    for (int i = 0; i < n; i++) {
      char c = fmt.charAt(i);
      if (c != '%') {
        sb.append(c);
        continue;
      }
      i++;
      if (i >= n) {
        throw Errors.value("incomplete format");
      }
      Object value = null;
      boolean haveValue = false;
      if (fmt.charAt(i) == '(') {
        int close = fmt.indexOf(')', i);
        if (close < 0 || mapping == null) {
          throw Errors.type("format requires a mapping");
        }
        String key = fmt.substring(i + 1, close);
        value = mapping.get(key);
        haveValue = true;
        i = close + 1;
      }
      StringBuilder flags = new StringBuilder();
      while (i < n && "-+ #0".indexOf(fmt.charAt(i)) >= 0) {
        flags.append(fmt.charAt(i++));
      }
      int width = -1;
      int ws = i;
      while (i < n && Character.isDigit(fmt.charAt(i))) {
        i++;
      }
      if (i > ws) {
        width = Integer.parseInt(fmt.substring(ws, i));
      }
      int prec = -1;
      if (i < n && fmt.charAt(i) == '.') {
        i++;
        int ps = i;
        while (i < n && Character.isDigit(fmt.charAt(i))) {
          i++;
        }
        prec = i > ps ? Integer.parseInt(fmt.substring(ps, i)) : 0;
      }
      if (i >= n) {
        throw Errors.value("incomplete format");
      }
      char conv = fmt.charAt(i);
      if (conv == '%') {
        sb.append('%');
        continue;
      }
      if (!haveValue) {
        if (single) {
          if (usedSingle) {
            throw Errors.type("not enough arguments for format string");
          }
          value = args;
          usedSingle = true;
        } else {
          if (next >= positional.size()) {
            throw Errors.type("not enough arguments for format string");
          }
          value = positional.get(next++);
        }
      }
      String body = convert(conv, value, flags.toString(), prec, escape);
      sb.append(pad(body, width, flags.indexOf("-") >= 0, flags.indexOf("0") >= 0 && "sr".indexOf(conv) < 0));
    }
    if (positional != null && next < positional.size()) {
      throw Errors.type("not all arguments converted during string formatting");
    }
    return sb.toString();
  }

  private static String convert(char conv, Object v, String flags, int prec, boolean escape) {
    switch (conv) {
      case 's': {
        String s = escape ? Markup.escape(v).s : PyValues.str(v);
        return prec >= 0 && prec < PyStr.len(s) ? PyStr.substring(s, 0, prec) : s;
      }
      case 'r':
      case 'a': return escape ? Markup.escapeText(PyValues.repr(v)) : PyValues.repr(v);
      case 'd':
      case 'i':
      case 'u': {
        if (!PyValues.isNumeric(v)) {
          throw Errors.type("%" + conv + " format: a real number is required, not " + PyValues.typeName(v));
        }
        long x = PyValues.isFloat(v) ? (long) PyValues.toDouble(v) : PyValues.toLong(v);
        return sign(x >= 0, flags) + Math.abs(x);
      }
      case 'x':
      case 'X':
      case 'o': {
        long x = PyValues.toLong(v);
        String s = conv == 'o' ? Long.toOctalString(Math.abs(x)) : Long.toHexString(Math.abs(x));
        return sign(x >= 0, flags) + (conv == 'X' ? s.toUpperCase() : s);
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (!PyValues.isNumeric(v)) {
          throw Errors.type("must be real number, not " + PyValues.typeName(v));
        }
        double d = PyValues.toDouble(v);
        return sign(d >= 0, flags) + fixedOrExp(Math.abs(d), conv, prec < 0 ? 6 : prec);
      }
      case 'c': return Markup.isStr(v) ? PyValues.str(v) : new String(Character.toChars((int) PyValues.toLong(v)));
      default: throw Errors.value("unsupported format character '" + conv + "'");
    }
  }

  private static String sign(boolean nonNeg, String flags) {
    if (!nonNeg) {
      return "-";
    }
    return flags.indexOf('+') >= 0 ? "+" : flags.indexOf(' ') >= 0 ? " " : "";
  }

  static String fixedOrExp(double d, char conv, int prec) {
    if (Double.isNaN(d)) {
      return Character.isUpperCase(conv) ? "NAN" : "nan";
    }
    if (Double.isInfinite(d)) {
      return Character.isUpperCase(conv) ? "INF" : "inf";
    }
    switch (conv) {
      case 'f':
      case 'F':
        return new BigDecimal(d).setScale(prec, RoundingMode.HALF_EVEN).toPlainString();
      case 'e':
      case 'E': {
        String s = exp(d, prec);
        return conv == 'E' ? s.toUpperCase() : s;
      }
      default: {
        int p = prec == 0 ? 1 : prec;
        if (d == 0) {
          return "0";
        }
        String e = exp(d, p - 1);
        int x = Integer.parseInt(e.substring(e.indexOf('e') + 1));
        String s;
        if (x >= -4 && x < p) {
          s = new BigDecimal(d).setScale(p - 1 - x, RoundingMode.HALF_EVEN).toPlainString();
          if (s.contains(".")) {
            s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
          }
        } else {
          String mant = e.substring(0, e.indexOf('e'));
          if (mant.contains(".")) {
            mant = mant.replaceAll("0+$", "").replaceAll("\\.$", "");
          }
          s = mant + e.substring(e.indexOf('e'));
        }
        return conv == 'G' ? s.toUpperCase() : s;
      }
    }
  }

  private static String exp(double d, int prec) {
    if (d == 0) {
      return "0" + (prec > 0 ? "." + "0".repeat(prec) : "") + "e+00";
    }
    BigDecimal bd = new BigDecimal(d);
    int x = bd.precision() - bd.scale() - 1;
    BigDecimal m = bd.movePointLeft(x).setScale(prec, RoundingMode.HALF_EVEN);
    if (m.abs().compareTo(BigDecimal.TEN) >= 0) {
      x++;
      m = bd.movePointLeft(x).setScale(prec, RoundingMode.HALF_EVEN);
    }
    return m.toPlainString() + "e" + (x < 0 ? "-" : "+") + (Math.abs(x) < 10 ? "0" : "") + Math.abs(x);
  }

  private static String pad(String s, int width, boolean left, boolean zero) {
    int len = PyStr.len(s);
    if (width <= len) {
      return s;
    }
    if (left) {
      return s + " ".repeat(width - len);
    }
    if (zero) {
      boolean signed = !s.isEmpty() && "+- ".indexOf(s.charAt(0)) >= 0;
      return signed ? s.charAt(0) + "0".repeat(width - len) + s.substring(1) : "0".repeat(width - len) + s;
    }
    return " ".repeat(width - len) + s;
  }

  /** {@code str.format}: {}, {0}, {name}, {name.attr}, {0[key]}, !r/!s and [[fill]align][sign][0][width][.prec][type]. */
  static String format(String fmt, List<Object> args, Map<String, Object> kwargs) {
    return format(fmt, args, kwargs, false);
  }

  /**
   * {@code str.format}; with {@code escape} as jinja2's sandbox formats a Markup ({@code SandboxedEscapeFormatter},
   * markupsafe's {@code EscapeFormatter.format_field}): a Markup value is inserted as is and takes no format spec,
   * any other value is formatted and then escaped.
   */
  static String format(String fmt, List<Object> args, Map<String, Object> kwargs, boolean escape) {
    StringBuilder sb = new StringBuilder();
    int auto = 0;
    int n = fmt.length();
    for (int i = 0; i < n; i++) {
      char c = fmt.charAt(i);
      if (c == '{') {
        if (i + 1 < n && fmt.charAt(i + 1) == '{') {
          sb.append('{');
          i++;
          continue;
        }
        int close = fmt.indexOf('}', i);
        if (close < 0) {
          throw Errors.value("Single '{' encountered in format string");
        }
        String field = fmt.substring(i + 1, close);
        i = close;
        String spec = "";
        char conversion = 0;
        int colon = field.indexOf(':');
        if (colon >= 0) {
          spec = field.substring(colon + 1);
          field = field.substring(0, colon);
        }
        int bang = field.indexOf('!');
        if (bang >= 0) {
          conversion = field.length() > bang + 1 ? field.charAt(bang + 1) : 0;
          field = field.substring(0, bang);
        }
        int cut = 0;
        while (cut < field.length() && field.charAt(cut) != '.' && field.charAt(cut) != '[') {
          cut++;
        }
        String head = field.substring(0, cut);
        Object v;
        if (head.isEmpty()) {
          if (auto >= args.size()) {
            throw new TemplateException("IndexError",
                "Replacement index " + auto + " out of range for positional args tuple");
          }
          v = args.get(auto++);
        } else if (head.chars().allMatch(Character::isDigit)) {
          int k = Integer.parseInt(head);
          if (k >= args.size()) {
            throw new TemplateException("IndexError",
                "Replacement index " + k + " out of range for positional args tuple");
          }
          v = args.get(k);
        } else {
          if (!kwargs.containsKey(head)) {
            throw new TemplateException("KeyError", PyStr.repr(head));
          }
          v = kwargs.get(head);
        }
        String rest = field.substring(cut);
        while (!rest.isEmpty()) {
          if (rest.charAt(0) == '.') {
            int e = 1;
            while (e < rest.length() && rest.charAt(e) != '.' && rest.charAt(e) != '[') {
              e++;
            }
            v = PyValues.getattr(v, rest.substring(1, e));
            rest = rest.substring(e);
          } else {
            int e = rest.indexOf(']');
            String key = rest.substring(1, e);
            v = PyValues.getitem(v, key.chars().allMatch(Character::isDigit) && !key.isEmpty()
                ? (Object) Long.parseLong(key) : key);
            rest = rest.substring(e + 1);
          }
        }
        if (v instanceof Undefined) {
          throw ((Undefined) v).fail();
        }
        if (conversion == 'r') {
          v = PyValues.repr(v);
        } else if (conversion == 's') {
          v = PyValues.str(v);
        }
        if (!escape) {
          sb.append(applySpec(v, spec));
        } else if (v instanceof Markup) {
          if (!spec.isEmpty()) {
            throw Errors.value("Unsupported format specification for Markup.");
          }
          sb.append(((Markup) v).s);
        } else {
          sb.append(Markup.escapeText(applySpec(v, spec)));
        }
      } else if (c == '}') {
        if (i + 1 < n && fmt.charAt(i + 1) == '}') {
          i++;
        }
        sb.append('}');
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  private static String applySpec(Object v, String spec) {
    v = Markup.plain(v); // format(Markup, spec) is str.__format__
    if (spec.isEmpty()) {
      return PyValues.str(v);
    }
    int i = 0;
    char fill = ' ';
    char align = 0;
    if (spec.length() >= 2 && "<>^=".indexOf(spec.charAt(1)) >= 0) {
      fill = spec.charAt(0);
      align = spec.charAt(1);
      i = 2;
    } else if ("<>^=".indexOf(spec.charAt(0)) >= 0) {
      align = spec.charAt(0);
      i = 1;
    }
    String signFlag = "";
    if (i < spec.length() && "+- ".indexOf(spec.charAt(i)) >= 0) {
      signFlag = String.valueOf(spec.charAt(i++));
    }
    if (i < spec.length() && spec.charAt(i) == '0') {
      if (align == 0) {
        fill = '0';
        align = '=';
      }
      i++;
    }
    int ws = i;
    while (i < spec.length() && Character.isDigit(spec.charAt(i))) {
      i++;
    }
    int width = i > ws ? Integer.parseInt(spec.substring(ws, i)) : -1;
    int prec = -1;
    if (i < spec.length() && spec.charAt(i) == '.') {
      int ps = ++i;
      while (i < spec.length() && Character.isDigit(spec.charAt(i))) {
        i++;
      }
      prec = Integer.parseInt(spec.substring(ps, i));
    }
    char type = i < spec.length() ? spec.charAt(i) : 0;
    String body;
    boolean numeric = PyValues.isNumeric(v) && !(v instanceof String);
    if (type == 0 && v instanceof String) {
      body = prec >= 0 ? PyStr.substring((String) v, 0, prec) : (String) v;
    } else if (type == 's') {
      String s = PyValues.str(v);
      body = prec >= 0 ? PyStr.substring(s, 0, prec) : s;
    } else if ("fFeEgG%".indexOf(type) >= 0 && type != 0 || (type == 0 && PyValues.isFloat(v) && prec >= 0)) {
      double d = PyValues.toDouble(v);
      String s;
      if (type == '%') {
        s = fixedOrExp(Math.abs(d) * 100, 'f', prec < 0 ? 6 : prec) + "%";
      } else {
        s = fixedOrExp(Math.abs(d), type == 0 ? 'g' : type, prec < 0 ? 6 : prec);
      }
      body = sign(d >= 0 && !(d == 0 && 1 / d < 0), signFlag) + s;
    } else if (type == 'd' || (type == 0 && PyValues.isInt(v))) {
      long x = PyValues.toLong(v);
      body = sign(x >= 0, signFlag) + Math.abs(x);
    } else if (type == 'x' || type == 'X' || type == 'o' || type == 'b') {
      long x = PyValues.toLong(v);
      String s = type == 'b' ? Long.toBinaryString(Math.abs(x)) : type == 'o' ? Long.toOctalString(Math.abs(x))
          : Long.toHexString(Math.abs(x));
      body = sign(x >= 0, signFlag) + (type == 'X' ? s.toUpperCase() : s);
    } else {
      body = PyValues.str(v);
    }
    int len = PyStr.len(body);
    if (width <= len) {
      return body;
    }
    int padn = width - len;
    String f = String.valueOf(fill);
    if (align == 0) {
      align = numeric ? '>' : '<';
    }
    switch (align) {
      case '<': return body + f.repeat(padn);
      case '^': return f.repeat(padn / 2) + body + f.repeat(padn - padn / 2);
      case '=': {
        boolean signed = !body.isEmpty() && "+- ".indexOf(body.charAt(0)) >= 0;
        return signed ? body.charAt(0) + f.repeat(padn) + body.substring(1) : f.repeat(padn) + body;
      }
      default: return f.repeat(padn) + body;
    }
  }
}
