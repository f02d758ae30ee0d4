package dev.jgen.prompt.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps}, which transformers installs as the {@code tojson} filter (unlike Jinja's own tojson it
 * does not HTML-escape, and keeps non-ASCII text with ensure_ascii=False).
 */
final class Json {
  private Json() {}

  static String dumps(Object v, boolean ensureAscii, String indent, String itemSep, String keySep, boolean sortKeys) {
    StringBuilder sb = new StringBuilder();
    new Json.Writer(ensureAscii, indent, itemSep, keySep, sortKeys).write(sb, v, 0);
    return sb.toString();
  }

  private static final class Writer {
    final boolean ensureAscii;
    final String indent;
    final String itemSep;
    final String keySep;
    final boolean sortKeys;

    Writer(boolean ensureAscii, String indent, String itemSep, String keySep, boolean sortKeys) {
      this.ensureAscii = ensureAscii;
      this.indent = indent;
      this.itemSep = itemSep;
      this.keySep = keySep;
      this.sortKeys = sortKeys;
    }

    void newline(StringBuilder sb, int level) {
      sb.append('\n');
      for (int i = 0; i < level; i++) {
        sb.append(indent);
      }
    }

    void write(StringBuilder sb, Object v, int level) {
      if (v == null) {
        sb.append("null");
      } else if (Markup.isStr(v)) {
        // json.dumps writes a str subclass as a string
        string(sb, PyValues.str(v));
      } else if (v instanceof Boolean) {
        sb.append(((Boolean) v) ? "true" : "false");
      } else if (PyValues.isInt(v)) {
        sb.append(v.toString());
      } else if (PyValues.isFloat(v)) {
        sb.append(floatText(PyValues.toDouble(v)));
      } else if (v instanceof List) {
        List<?> l = (List<?>) v;
        if (l.isEmpty()) {
          sb.append("[]");
          return;
        }
        sb.append('[');
        boolean first = true;
        for (Object x : l) {
          if (!first) {
            sb.append(itemSep);
          }
          if (indent != null) {
            newline(sb, level + 1);
          }
          first = false;
          write(sb, x, level + 1);
        }
        if (indent != null) {
          newline(sb, level);
        }
        sb.append(']');
      } else if (v instanceof Map) {
        Map<?, ?> m = (Map<?, ?>) v;
        if (m.isEmpty()) {
          sb.append("{}");
          return;
        }
        List<Object[]> entries = new ArrayList<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
          entries.add(new Object[] {keyText(e.getKey()), e.getValue(), e.getKey()});
        }
        if (sortKeys) {
          entries.sort((x, y) -> PyValues.compare(x[2], y[2], "<"));
        }
        sb.append('{');
        boolean first = true;
        for (Object[] e : entries) {
          if (!first) {
            sb.append(itemSep);
          }
          if (indent != null) {
            newline(sb, level + 1);
          }
          first = false;
          string(sb, (String) e[0]);
          sb.append(keySep);
          write(sb, e[1], level + 1);
        }
        if (indent != null) {
          newline(sb, level);
        }
        sb.append('}');
      } else {
        throw Errors.type("Object of type " + PyValues.typeName(v) + " is not JSON serializable");
      }
    }

    String keyText(Object k) {
      if (Markup.isStr(k)) {
        return PyValues.str(k);
      }
      if (k == null) {
        return "null";
      }
      if (k instanceof Boolean) {
        return ((Boolean) k) ? "true" : "false";
      }
      if (PyValues.isInt(k)) {
        return k.toString();
      }
      if (PyValues.isFloat(k)) {
        return floatText(PyValues.toDouble(k));
      }
      throw Errors.type("keys must be str, int, float, bool or None, not " + PyValues.typeName(k));
    }

    static String floatText(double d) {
      if (Double.isNaN(d)) {
        return "NaN";
      }
      if (Double.isInfinite(d)) {
        return d > 0 ? "Infinity" : "-Infinity";
      }
      return PyValues.floatRepr(d);
    }

    void string(StringBuilder sb, String s) {
      sb.append('"');
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        switch (c) {
          case '"': sb.append("\\\""); break;
          case '\\': sb.append("\\\\"); break;
          case '\n': sb.append("\\n"); break;
          case '\r': sb.append("\\r"); break;
          case '\t': sb.append("\\t"); break;
          case '\b': sb.append("\\b"); break;
          case '\f': sb.append("\\f"); break;
          default:
            if (c < 0x20 || (ensureAscii && c > 0x7e)) {
              sb.append(String.format("\\u%04x", (int) c));
            } else {
              sb.append(c);
            }
        }
      }
      sb.append('"');
    }
  }
}
