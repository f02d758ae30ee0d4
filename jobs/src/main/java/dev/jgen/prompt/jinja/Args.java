package dev.jgen.prompt.jinja;

import java.util.List;
import java.util.Map;

/** Python-style argument binding for built-in filters, tests, globals and methods. */
final class Args {
  static final Map<String, Object> NO_KWARGS = Map.of();

  final String fn;
  final List<Object> pos;
  final Map<String, Object> kw;

  Args(String fn, List<Object> pos, Map<String, Object> kw) {
    this.fn = fn;
    this.pos = pos;
    this.kw = kw == null ? NO_KWARGS : kw;
  }

  int size() {
    return pos.size();
  }

  boolean has(int i, String name) {
    return (i >= 0 && i < pos.size()) || (name != null && kw.containsKey(name));
  }

  /** Positional argument {@code i}, else keyword {@code name}, else {@code dflt}. */
  Object get(int i, String name, Object dflt) {
    if (i >= 0 && i < pos.size()) {
      return pos.get(i);
    }
    if (name != null && kw.containsKey(name)) {
      return kw.get(name);
    }
    return dflt;
  }

  Object required(int i, String name) {
    if (!has(i, name)) {
      throw Errors.type(fn + "() missing required argument '" + name + "' (pos " + (i + 1) + ")");
    }
    return get(i, name, null);
  }

  String str(int i, String name, String dflt) {
    Object v = get(i, name, dflt);
    return v == null ? null : PyValues.str(v);
  }

  /** An optional string argument where None means "not given". */
  String optStr(int i, String name) {
    Object v = get(i, name, null);
    if (v == null || v instanceof Undefined) {
      return null;
    }
    if (!Markup.isStr(v)) {
      throw Errors.type(fn + "() argument must be str or None, not " + PyValues.typeName(v));
    }
    return PyValues.str(v);
  }

  long integer(int i, String name, long dflt) {
    Object v = get(i, name, null);
    if (v == null) {
      return dflt;
    }
    if (PyValues.isInt(v) || v instanceof Boolean) {
      return PyValues.toLong(v);
    }
    throw Errors.type("'" + PyValues.typeName(v) + "' object cannot be interpreted as an integer");
  }

  boolean bool(int i, String name, boolean dflt) {
    Object v = get(i, name, null);
    return v == null && !has(i, name) ? dflt : PyValues.truthy(v);
  }

  void atMost(int n) {
    if (pos.size() > n) {
      throw Errors.type(fn + "() takes at most " + n + " argument" + (n == 1 ? "" : "s") + " (" + pos.size()
          + " given)");
    }
  }
}
