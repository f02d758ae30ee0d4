package dev.jgen.prompt.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Python methods of str, dict and list that templates call ({@code content.strip()}, {@code message.get('x')}).
 * This is the whole attribute surface of those values: there is no reflection, so no Java method is reachable.
 * Mutating methods exist in Python but the immutable sandbox refuses them, so they resolve to an "unsafe" Undefined.
 */
final class PyMethods {
  private PyMethods() {}

  private static final Set<String> STR_METHODS = Set.of("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
      "startswith", "endswith", "lower", "upper", "title", "capitalize", "swapcase", "casefold", "replace", "find",
      "rfind", "index", "rindex", "count", "join", "format", "isdigit", "isalpha", "isspace", "isalnum", "isupper",
      "islower", "isnumeric", "isdecimal", "partition", "rpartition", "zfill", "center", "ljust", "rjust",
      "removeprefix", "removesuffix");
  /** Markup's own methods besides str's (markupsafe {@code __init__.py}). */
  private static final Set<String> MARKUP_METHODS = Set.of("unescape", "striptags", "escape");
  /** str methods that markupsafe overrides to return a Markup of the plain result (arguments not escaped). */
  private static final Set<String> MARKUP_WRAPPED = Set.of("strip", "lstrip", "rstrip", "lower", "upper", "title",
      "capitalize", "swapcase", "casefold", "zfill", "removeprefix", "removesuffix");
  private static final Set<String> DICT_METHODS = Set.of("get", "items", "keys", "values", "copy");
  private static final Set<String> DICT_UNSAFE = Set.of("clear", "pop", "popitem", "setdefault", "update");
  private static final Set<String> LIST_METHODS = Set.of("index", "count", "copy");
  private static final Set<String> LIST_UNSAFE = Set.of("append", "clear", "extend", "insert", "pop", "remove",
      "reverse", "sort");

  /** The bound method {@code obj.name}, an unsafe Undefined, or null when {@code obj} has no such method. */
  static Object lookup(Object obj, String name) {
    if (obj instanceof String) {
      return STR_METHODS.contains(name) ? bound(name, (a) -> strMethod((String) obj, name, plainArgs(name, a))) : null;
    }
    if (obj instanceof Markup) {
      return STR_METHODS.contains(name) || MARKUP_METHODS.contains(name)
          ? bound(name, (a) -> markupMethod((Markup) obj, name, a)) : null;
    }
    if (obj instanceof Map) {
      if (DICT_METHODS.contains(name)) {
        return bound(name, (a) -> dictMethod((Map<?, ?>) obj, name, a));
      }
      return DICT_UNSAFE.contains(name) ? Undefined.unsafe(obj, name) : null;
    }
    if (obj instanceof List) {
      if (LIST_METHODS.contains(name)) {
        return bound(name, (a) -> listMethod((List<?>) obj, name, a));
      }
      return LIST_UNSAFE.contains(name) && !(obj instanceof PyTuple) ? Undefined.unsafe(obj, name) : null;
    }
    return null;
  }

  interface Impl {
    Object apply(Args a);
  }

  static final class BoundMethod implements PyCallable {
    final String name;
    final Impl impl;

    BoundMethod(String name, Impl impl) {
      this.name = name;
      this.impl = impl;
    }

    @Override
    public Object call(List<Object> args, Map<String, Object> kwargs) {
      return impl.apply(new Args(name, args, kwargs));
    }

    @Override
    public String toString() {
      return "<built-in method " + name + ">";
    }
  }

  private static BoundMethod bound(String name, Impl impl) {
    return new BoundMethod(name, impl);
  }

  private static String strArg(Args a, int i, String name) {
    Object v = a.required(i, name);
    if (!(v instanceof String)) {
      throw Errors.type("must be str, not " + PyValues.typeName(v));
    }
    return (String) v;
  }

  /** [start, end) of an optional start/end pair as code point indices clamped like Python. */
  private static int[] range(String s, Args a, int i) {
    int n = PyStr.len(s);
    long start = a.get(i, null, null) == null ? 0 : PyValues.toIndex(a.get(i, null, null));
    long end = a.get(i + 1, null, null) == null ? n : PyValues.toIndex(a.get(i + 1, null, null));
    if (start < 0) {
      start = Math.max(0, start + n);
    }
    if (end < 0) {
      end = Math.max(0, end + n);
    }
    return new int[] {(int) Math.min(start, n), (int) Math.min(end, n)};
  }

  private static boolean affix(String s, Args a, boolean prefix) {
    Object p = a.required(0, prefix ? "prefix" : "suffix");
    int[] r = range(s, a, 1);
    if (r[0] > r[1]) {
      return false;
    }
    String sub = PyStr.substring(s, r[0], r[1]);
    if (p instanceof PyTuple) {
      for (Object x : (PyTuple) p) {
        if (!(x instanceof String)) {
          throw Errors.type("tuple for " + (prefix ? "startswith" : "endswith") + " must only contain str, not "
              + PyValues.typeName(x));
        }
        if (prefix ? sub.startsWith((String) x) : sub.endsWith((String) x)) {
          return true;
        }
      }
      return false;
    }
    if (!(p instanceof String)) {
      throw Errors.type((prefix ? "startswith" : "endswith") + " first arg must be str or a tuple of str, not "
          + PyValues.typeName(p));
    }
    return prefix ? sub.startsWith((String) p) : sub.endsWith((String) p);
  }

  private static long find(String s, Args a, boolean reverse) {
    String sub = strArg(a, 0, "sub");
    int[] r = range(s, a, 1);
    if (r[0] > r[1]) {
      return -1;
    }
    String hay = PyStr.substring(s, r[0], r[1]);
    int j = reverse ? hay.lastIndexOf(sub) : hay.indexOf(sub);
    return j < 0 ? -1 : r[0] + PyStr.cpIndex(hay, j);
  }

  private static boolean allChars(String s, java.util.function.IntPredicate p) {
    if (s.isEmpty()) {
      return false;
    }
    return s.codePoints().allMatch(p);
  }

  static Object strMethod(String s, String name, Args a) {
    switch (name) {
      case "strip": return PyStr.strip(s, a.optStr(0, "chars"));
      case "lstrip": return PyStr.lstrip(s, a.optStr(0, "chars"));
      case "rstrip": return PyStr.rstrip(s, a.optStr(0, "chars"));
      case "split": return PyStr.split(s, a.optStr(0, "sep"), (int) a.integer(1, "maxsplit", -1));
      case "rsplit": return PyStr.rsplit(s, a.optStr(0, "sep"), (int) a.integer(1, "maxsplit", -1));
      case "splitlines": return PyStr.splitlines(s, a.bool(0, "keepends", false));
      case "startswith": return affix(s, a, true);
      case "endswith": return affix(s, a, false);
      case "lower": return PyStr.lower(s);
      case "upper": return PyStr.upper(s);
      case "casefold": return PyStr.lower(s);
      case "title": return PyStr.title(s);
      case "capitalize": return PyStr.capitalize(s);
      case "swapcase": {
        StringBuilder sb = new StringBuilder();
        s.codePoints().forEach(c -> sb.appendCodePoint(Character.isUpperCase(c) ? Character.toLowerCase(c)
            : Character.isLowerCase(c) ? Character.toUpperCase(c) : c));
        return sb.toString();
      }
      case "replace": return PyStr.replace(s, strArg(a, 0, "old"), strArg(a, 1, "new"), (int) a.integer(2, "count", -1));
      case "find": return find(s, a, false);
      case "rfind": return find(s, a, true);
      case "index":
      case "rindex": {
        long i = find(s, a, name.equals("rindex"));
        if (i < 0) {
          throw Errors.value("substring not found");
        }
        return i;
      }
      case "count": {
        String sub = strArg(a, 0, "sub");
        int[] r = range(s, a, 1);
        if (r[0] > r[1]) {
          return 0L;
        }
        String hay = PyStr.substring(s, r[0], r[1]);
        if (sub.isEmpty()) {
          return (long) PyStr.len(hay) + 1;
        }
        long c = 0;
        for (int i = hay.indexOf(sub); i >= 0; i = hay.indexOf(sub, i + sub.length())) {
          c++;
        }
        return c;
      }
      case "join": {
        StringBuilder sb = new StringBuilder();
        boolean first = true;
        for (Object x : PyValues.iterate(a.required(0, "iterable"))) {
          if (!(x instanceof String)) {
            throw Errors.type("sequence item: expected str instance, " + PyValues.typeName(x) + " found");
          }
          if (!first) {
            sb.append(s);
          }
          first = false;
          sb.append((String) x);
        }
        return sb.toString();
      }
      case "format": return PyFormat.format(s, a.pos, a.kw);
      case "isdigit": return allChars(s, Character::isDigit);
      case "isdecimal": return allChars(s, c -> Character.getType(c) == Character.DECIMAL_DIGIT_NUMBER);
      case "isnumeric": return allChars(s, c -> Character.isDigit(c) || Character.getType(c) == Character.OTHER_NUMBER
          || Character.getType(c) == Character.LETTER_NUMBER);
      case "isalpha": return allChars(s, Character::isLetter);
      case "isalnum": return allChars(s, c -> Character.isLetter(c) || Character.isDigit(c));
      case "isspace": return allChars(s, PyStr::isSpace);
      case "isupper": return s.codePoints().anyMatch(Character::isUpperCase)
          && s.codePoints().noneMatch(c -> Character.isLowerCase(c) || Character.isTitleCase(c));
      case "islower": return s.codePoints().anyMatch(Character::isLowerCase)
          && s.codePoints().noneMatch(c -> Character.isUpperCase(c) || Character.isTitleCase(c));
      case "partition":
      case "rpartition": {
        String sep = strArg(a, 0, "sep");
        if (sep.isEmpty()) {
          throw Errors.value("empty separator");
        }
        int i = name.equals("partition") ? s.indexOf(sep) : s.lastIndexOf(sep);
        if (i < 0) {
          return name.equals("partition") ? PyTuple.of(s, "", "") : PyTuple.of("", "", s);
        }
        return PyTuple.of(s.substring(0, i), sep, s.substring(i + sep.length()));
      }
      case "zfill": return PyStr.zfill(s, (int) a.integer(0, "width", 0));
      case "center":
      case "ljust":
      case "rjust": {
        int width = (int) a.integer(0, "width", 0);
        String fill = a.str(1, "fillchar", " ");
        int pad = width - PyStr.len(s);
        if (pad <= 0) {
          return s;
        }
        if (name.equals("center")) {
          return PyStr.center(s, width, fill);
        }
        return name.equals("ljust") ? s + fill.repeat(pad) : fill.repeat(pad) + s;
      }
      case "removeprefix": {
        String p = strArg(a, 0, "prefix");
        return s.startsWith(p) ? s.substring(p.length()) : s;
      }
      case "removesuffix": {
        String p = strArg(a, 0, "suffix");
        return !p.isEmpty() && s.endsWith(p) ? s.substring(0, s.length() - p.length()) : s;
      }
      default: throw Errors.type("'str' object has no attribute '" + name + "'");
    }
  }

  /**
   * A str method called with Markup arguments works on their str value ({@code str.join} of Markups is a plain str);
   * format keeps them (a {@code !r} conversion shows the Markup).
   */
  private static Args plainArgs(String name, Args a) {
    if (name.equals("format")) {
      return a;
    }
    List<Object> pos = null;
    for (int i = 0; i < a.pos.size(); i++) {
      Object v = a.pos.get(i);
      if (name.equals("join") && i == 0 && !Markup.isStr(v)) {
        List<Object> items = new ArrayList<>();
        for (Object x : PyValues.iterate(v)) {
          items.add(Markup.plain(x));
        }
        v = items;
      } else if (v instanceof PyTuple && (name.equals("startswith") || name.equals("endswith"))) {
        List<Object> items = new ArrayList<>();
        for (Object x : (PyTuple) v) {
          items.add(Markup.plain(x));
        }
        v = PyTuple.copyOf(items);
      }
      v = Markup.plain(v);
      if (v != a.pos.get(i)) {
        if (pos == null) {
          pos = new ArrayList<>(a.pos);
        }
        pos.set(i, v);
      }
    }
    Map<String, Object> kw = a.kw;
    for (Map.Entry<String, Object> e : a.kw.entrySet()) {
      if (e.getValue() instanceof Markup) {
        if (kw == a.kw) {
          kw = new java.util.LinkedHashMap<>(a.kw);
        }
        kw.put(e.getKey(), Markup.plain(e.getValue()));
      }
    }
    return pos == null && kw == a.kw ? a : new Args(a.fn, pos == null ? a.pos : pos, kw);
  }

  private static List<Object> markups(Object list) {
    List<Object> out = new ArrayList<>();
    for (Object x : PyValues.iterate(list)) {
      out.add(new Markup((String) x));
    }
    return out;
  }

  /**
   * Markup's methods (markupsafe 3.0 {@code __init__.py}): join, replace's new text, center/ljust/rjust's fill and
   * format's arguments are escaped; split/rsplit/splitlines/partition/rpartition give Markups; unescape and striptags
   * give plain str; the methods markupsafe does not override (find, startswith, count, isdigit...) are str's.
   */
  static Object markupMethod(Markup m, String name, Args a) {
    String s = m.s;
    switch (name) {
      case "join": {
        StringBuilder sb = new StringBuilder();
        boolean first = true;
        for (Object x : PyValues.iterate(a.required(0, "iterable"))) {
          if (!first) {
            sb.append(s);
          }
          first = false;
          sb.append(Markup.escape(x).s);
        }
        return new Markup(sb.toString());
      }
      case "format": return new Markup(PyFormat.format(s, a.pos, a.kw, true));
      case "replace": {
        List<Object> pos = new ArrayList<>(a.pos);
        if (pos.size() > 1) {
          pos.set(1, Markup.escape(pos.get(1)));
        }
        return new Markup((String) strMethod(s, name, plainArgs(name, new Args(a.fn, pos, a.kw))));
      }
      case "center":
      case "ljust":
      case "rjust": {
        List<Object> pos = new ArrayList<>(a.pos);
        if (pos.size() > 1) {
          pos.set(1, Markup.escape(pos.get(1)));
        }
        return new Markup((String) strMethod(s, name, plainArgs(name, new Args(a.fn, pos, a.kw))));
      }
      case "split":
      case "rsplit":
      case "splitlines":
      case "partition":
      case "rpartition": {
        Object r = strMethod(s, name, plainArgs(name, a));
        return r instanceof PyTuple ? PyTuple.copyOf(markups(r)) : markups(r);
      }
      case "unescape": return Filters.unescape(s);
      case "striptags": return Filters.striptags(s);
      case "escape": return Markup.escape(a.required(0, "s"));
      default: {
        Object r = strMethod(s, name, plainArgs(name, a));
        return MARKUP_WRAPPED.contains(name) ? new Markup((String) r) : r;
      }
    }
  }

  static Object dictMethod(Map<?, ?> m, String name, Args a) {
    switch (name) {
      case "get": {
        Object k = PyValues.findKey(m, a.required(0, "key"));
        return k == Undefined.MISSING ? a.get(1, null, null) : m.get(k);
      }
      case "items": {
        List<Object> out = new ArrayList<>(m.size());
        for (Map.Entry<?, ?> e : m.entrySet()) {
          out.add(PyTuple.of(e.getKey(), e.getValue()));
        }
        return out;
      }
      case "keys": return new ArrayList<Object>(m.keySet());
      case "values": return new ArrayList<Object>(m.values());
      case "copy": return new java.util.LinkedHashMap<Object, Object>(m);
      default: throw Errors.type("'dict' object has no attribute '" + name + "'");
    }
  }

  static Object listMethod(List<?> l, String name, Args a) {
    switch (name) {
      case "index": {
        Object x = a.required(0, "value");
        for (int i = 0; i < l.size(); i++) {
          if (PyValues.eq(l.get(i), x)) {
            return (long) i;
          }
        }
        throw Errors.value(PyValues.repr(x) + " is not in list");
      }
      case "count": {
        Object x = a.required(0, "value");
        long c = 0;
        for (Object y : l) {
          if (PyValues.eq(y, x)) {
            c++;
          }
        }
        return c;
      }
      case "copy": return new ArrayList<Object>(l);
      default: throw Errors.type("'list' object has no attribute '" + name + "'");
    }
  }
}
