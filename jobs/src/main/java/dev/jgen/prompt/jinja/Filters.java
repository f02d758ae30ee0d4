package dev.jgen.prompt.jinja;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Jinja2 3.1's built-in filters (as in {@code jinja2/filters.py}), with transformers' {@code tojson}. */
final class Filters {
  private Filters() {}

  interface Filter {
    Object apply(Object v, Args a);
  }

  private static final Map<String, Filter> FILTERS = new HashMap<>();

  static Filter get(String name) {
    return FILTERS.get(name);
  }

  private static void reg(Filter f, String... names) {
    for (String n : names) {
      FILTERS.put(n, f);
    }
  }

  /** Jinja's soft_str: str() of anything, '' for Undefined. */
  private static String s(Object v) {
    return PyValues.str(v);
  }

  private static final Pattern WORD_BEGINNING_SPLIT = Pattern.compile("([-\\s({\\[<]+)", Pattern.UNICODE_CHARACTER_CLASS);
  private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);

  static {
    reg((v, a) -> (long) PyValues.len(v), "length", "count");
    // soft_str keeps a Markup; do_mark_safe is Markup(value)
    reg((v, a) -> v instanceof Markup ? v : s(v), "string");
    reg((v, a) -> Markup.of(v), "safe");
    reg(Filters::tojson, "tojson");
    // do_trim / do_upper / do_lower / do_capitalize call the method on soft_str(value): a Markup stays one;
    // do_title joins with "" (a plain str)
    reg((v, a) -> same(v, PyStr.strip(s(v), a.optStr(0, "chars"))), "trim");
    reg((v, a) -> same(v, PyStr.upper(s(v))), "upper");
    reg((v, a) -> same(v, PyStr.lower(s(v))), "lower");
    reg((v, a) -> title(s(v)), "title");
    reg((v, a) -> same(v, PyStr.capitalize(s(v))), "capitalize");
    reg((v, a) -> {
      Object count = a.get(2, "count", null);
      return PyStr.replace(s(v), s(a.required(0, "old")), s(a.required(1, "new")),
          count == null ? -1 : (int) PyValues.toLong(count));
    }, "replace");
    reg(Filters::join, "join");
    reg(Filters::map, "map");
    reg((v, a) -> select(v, a, false, true), "select");
    reg((v, a) -> select(v, a, false, false), "reject");
    reg((v, a) -> select(v, a, true, true), "selectattr");
    reg((v, a) -> select(v, a, true, false), "rejectattr");
    reg((v, a) -> new ArrayList<>(PyValues.iterate(v)), "list");
    reg(Filters::first, "first");
    reg(Filters::last, "last");
    reg((v, a) -> {
      boolean bool = a.bool(1, "boolean", false);
      if (v instanceof Undefined || (bool && !PyValues.truthy(v))) {
        return a.get(0, "default_value", "");
      }
      return v;
    }, "default", "d");
    reg(Filters::toInt, "int");
    reg(Filters::toFloat, "float");
    reg(Filters::abs, "abs");
    reg(Filters::round, "round");
    reg((v, a) -> {
      if (v instanceof Undefined) {
        return PyIterator.generator(new ArrayList<>(), "do_items");
      }
      if (!(v instanceof Map)) {
        throw Errors.type("Can only get item pairs from a mapping.");
      }
      List<Object> out = new ArrayList<>();
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        out.add(PyTuple.of(e.getKey(), e.getValue()));
      }
      return PyIterator.generator(out, "do_items");
    }, "items");
    reg(Filters::dictsort, "dictsort");
    reg(Filters::unique, "unique");
    reg((v, a) -> {
      if (Markup.isStr(v)) {
        // value[::-1]; Markup.__getitem__ gives a Markup
        return same(v, new StringBuilder(s(v)).reverse().toString()); // keeps surrogate pairs together
      }
      // do_reverse: reversed(value) where Python has it (a list_reverseiterator, a tuple's "reversed", a dict's
      // dict_reversekeyiterator), else a reversed list of the items
      String kind = v instanceof PyTuple ? "reversed" : v instanceof List ? "list_reverseiterator"
          : v instanceof Map ? "dict_reversekeyiterator" : null;
      List<Object> l = new ArrayList<>(PyValues.iterate(v));
      Collections.reverse(l);
      return kind == null ? l : PyIterator.of(l, kind);
    }, "reverse");
    reg(Filters::sort, "sort");
    reg(Filters::indent, "indent");
    // markupsafe.escape leaves a Markup as it is; do_forceescape escapes str(value) even of a Markup
    reg((v, a) -> Markup.escape(v), "e", "escape");
    reg((v, a) -> new Markup(Markup.escapeText(s(v))), "forceescape");
    reg((v, a) -> minmax(v, a, false), "min");
    reg((v, a) -> minmax(v, a, true), "max");
    reg(Filters::sum, "sum");
    reg(Filters::batch, "batch");
    reg((v, a) -> {
      Matcher m = WORD.matcher(s(v));
      long c = 0;
      while (m.find()) {
        c++;
      }
      return c;
    }, "wordcount");
    reg((v, a) -> same(v, PyStr.center(s(v), (int) a.integer(0, "width", 80), " ")), "center");
    reg(Filters::truncate, "truncate");
    reg((v, a) -> attr(v, s(a.required(0, "name"))), "attr");
    reg((v, a) -> {
      if (!a.pos.isEmpty() && !a.kw.isEmpty()) {
        throw Errors.runtime("can't handle positional and keyword arguments at the same time");
      }
      // soft_str(value) % (kwargs or args): a Markup format escapes the arguments
      Object args = a.kw.isEmpty() ? PyTuple.copyOf(a.pos) : a.kw;
      return v instanceof Markup ? PyValues.markupPercent((Markup) v, args) : PyFormat.percent(s(v), args);
    }, "format");
    reg((v, a) -> PyValues.repr(sortDicts(v)), "pprint");
    // markupsafe Markup.striptags: drop comments, then tags, collapse whitespace, then unescape entities (so
    // "&nbsp;" becomes U+00A0 after the collapsing, not a space)
    reg((v, a) -> striptags(s(v)), "striptags");
  }

  /** Markup.striptags of the text: a plain str. */
  static String striptags(String text) {
    String str = text.replaceAll("(?s)<!--.*?-->", "").replaceAll("(?s)<.*?>", "");
    return unescape(String.join(" ", PyStr.split(str, null, -1).toArray(new String[0])));
  }

  /** The result as a Markup when the filter's input was one (a Markup method's result), else the plain str. */
  private static Object same(Object input, String result) {
    return input instanceof Markup ? new Markup(result) : result;
  }

  /**
   * do_attr (filters.py): a real attribute only (methods, loop/namespace attributes); unlike {@code foo.bar} it never
   * falls back to the item of that name, so {@code message|attr('role')} is Undefined.
   */
  private static Object attr(Object v, String name) {
    if (v instanceof Undefined || name.startsWith("__")) {
      return PyValues.getattr(v, name);
    }
    if (v instanceof PyValues.PyObject) {
      return PyValues.getattr(v, name);
    }
    Object m = PyMethods.lookup(v, name);
    return m != null ? m : Undefined.member(v, name);
  }

  private static Object tojson(Object v, Args a) {
    // transformers' signature: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    boolean ensureAscii = a.bool(0, "ensure_ascii", false);
    Object indent = a.get(1, "indent", null);
    Object seps = a.get(2, "separators", null);
    boolean sortKeys = a.bool(3, "sort_keys", false);
    String ind = null;
    if (indent != null) {
      ind = indent instanceof String ? (String) indent : " ".repeat((int) Math.max(0, PyValues.toLong(indent)));
    }
    String itemSep = ind == null ? ", " : ",";
    String keySep = ": ";
    if (seps != null) {
      List<Object> sp = PyValues.iterate(seps);
      if (sp.size() != 2) {
        throw Errors.value("not enough values to unpack (expected 2, got " + sp.size() + ")");
      }
      itemSep = s(sp.get(0));
      keySep = s(sp.get(1));
    }
    return Json.dumps(v, ensureAscii, ind, itemSep, keySep, sortKeys);
  }

  /** Jinja's title filter (not str.title): capitalizes after whitespace, '-', and opening brackets only. */
  private static String title(String str) {
    StringBuilder sb = new StringBuilder();
    Matcher m = WORD_BEGINNING_SPLIT.matcher(str);
    int last = 0;
    List<String> items = new ArrayList<>();
    while (m.find()) {
      items.add(str.substring(last, m.start()));
      items.add(m.group());
      last = m.end();
    }
    items.add(str.substring(last));
    for (String item : items) {
      if (item.isEmpty()) {
        continue;
      }
      int cp = item.codePointAt(0);
      int k = Character.charCount(cp);
      sb.append(PyStr.upper(item.substring(0, k))).append(PyStr.lower(item.substring(k)));
    }
    return sb.toString();
  }

  private static final Pattern ENTITY = Pattern.compile("&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);");
  private static final Map<String, String> NAMED_ENTITIES = Map.of("amp", "&", "lt", "<", "gt", ">", "quot", "\"",
      "apos", "'", "nbsp", "\u00a0");

  /**
   * html.unescape (what Markup.unescape calls) for numeric references and the common named ones; other names of
   * HTML5's 2,231 are left as written.
   */
  static String unescape(String str) {
    if (str.indexOf('&') < 0) {
      return str;
    }
    Matcher m = ENTITY.matcher(str);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String name = m.group(1);
      String rep;
      if (name.startsWith("#")) {
        boolean hex = name.length() > 1 && (name.charAt(1) == 'x' || name.charAt(1) == 'X');
        int cp;
        try {
          cp = Integer.parseInt(name.substring(hex ? 2 : 1), hex ? 16 : 10);
        } catch (NumberFormatException e) {
          cp = -1;
        }
        rep = cp > 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) ? new String(Character.toChars(cp)) : "\ufffd";
      } else {
        rep = NAMED_ENTITIES.getOrDefault(name, m.group());
      }
      m.appendReplacement(sb, Matcher.quoteReplacement(rep));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  /** Jinja's make_attrgetter: dotted paths, integer parts as indices, each step a getitem. */
  private static Object attrPath(Object item, Object attribute) {
    return attrPath(item, attribute, null);
  }

  /**
   * make_attrgetter with a default (filters.py): after each step an Undefined becomes {@code dflt}, unless the
   * default is None (jinja2 tests {@code default is not None}, so map(attribute=..., default=none) keeps Undefined).
   */
  private static Object attrPath(Object item, Object attribute, Object dflt) {
    attribute = Markup.plain(attribute);
    if (attribute == null) {
      return item;
    }
    if (!(attribute instanceof String)) {
      Object v = PyValues.getitem(item, attribute);
      return dflt != null && v instanceof Undefined ? dflt : v;
    }
    Object v = item;
    for (String part : ((String) attribute).split("\\.", -1)) {
      Object key = part;
      if (!part.isEmpty() && part.chars().allMatch(c -> c >= '0' && c <= '9')) {
        key = PyValues.norm(new java.math.BigInteger(part));
      }
      v = PyValues.getitem(v, key);
      if (dflt != null && v instanceof Undefined) {
        v = dflt;
      }
    }
    return v;
  }

  /** make_multi_attrgetter (used by sort): a comma-separated list of attribute paths gives a list of keys. */
  private static Object multiAttrPath(Object item, Object attribute, boolean caseSensitive) {
    attribute = Markup.plain(attribute);
    if (!(attribute instanceof String) || ((String) attribute).indexOf(',') < 0) {
      return attrPath(item, attribute);
    }
    List<Object> keys = new ArrayList<>();
    for (String part : ((String) attribute).split(",", -1)) {
      Object k = attrPath(item, part);
      keys.add(!caseSensitive && Markup.isStr(k) ? PyStr.lower(s(k)) : k);
    }
    return keys;
  }

  /** pprint.pformat sorts dict keys (sort_dicts=True); values are printed as repr otherwise. */
  private static Object sortDicts(Object v) {
    if (v instanceof Map) {
      List<Map.Entry<?, ?>> entries = new ArrayList<>(((Map<?, ?>) v).entrySet());
      entries.sort((x, y) -> PyValues.compare(x.getKey(), y.getKey(), "<"));
      Map<Object, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : entries) {
        out.put(e.getKey(), sortDicts(e.getValue()));
      }
      return out;
    }
    if (v instanceof PyTuple) {
      List<Object> out = new ArrayList<>();
      for (Object x : (PyTuple) v) {
        out.add(sortDicts(x));
      }
      return PyTuple.copyOf(out);
    }
    if (v instanceof List) {
      List<Object> out = new ArrayList<>();
      for (Object x : (List<?>) v) {
        out.add(sortDicts(x));
      }
      return out;
    }
    return v;
  }

  private static Object join(Object v, Args a) {
    String d = s(a.get(0, "d", ""));
    Object attribute = a.get(1, "attribute", null);
    StringBuilder sb = new StringBuilder();
    boolean first = true;
    for (Object x : PyValues.iterate(v)) {
      if (!first) {
        sb.append(d);
      }
      first = false;
      sb.append(s(attribute == null ? x : attrPath(x, attribute)));
    }
    return sb.toString();
  }

  /**
   * sync_do_map / prepare_map (filters.py): a falsy input gives an empty generator without looking at the arguments;
   * with only {@code attribute=} (and {@code default=}) an attribute getter, otherwise the named filter per item.
   */
  private static Object map(Object v, Args a) {
    List<Object> out = new ArrayList<>();
    if (!PyValues.truthy(v)) {
      return PyIterator.generator(out, "sync_do_map");
    }
    List<Object> items = PyValues.iterate(v);
    if (a.pos.isEmpty() && a.kw.containsKey("attribute")) {
      Object attribute = a.kw.get("attribute");
      Object dflt = a.kw.get("default");
      for (String k : a.kw.keySet()) {
        if (!k.equals("attribute") && !k.equals("default")) {
          throw new TemplateException("FilterArgumentError", "Unexpected keyword argument '" + k + "'");
        }
      }
      for (Object x : items) {
        out.add(attrPath(x, attribute, dflt));
      }
      return PyIterator.generator(out, "sync_do_map");
    }
    if (a.pos.isEmpty()) {
      throw new TemplateException("FilterArgumentError", "map requires a filter argument");
    }
    String name = s(a.pos.get(0));
    Filter f = get(name);
    if (f == null) {
      throw Errors.runtime("No filter named '" + name + "'.");
    }
    Args rest = new Args(name, a.pos.subList(1, a.pos.size()), a.kw);
    for (Object x : items) {
      out.add(f.apply(x, rest));
    }
    return PyIterator.generator(out, "sync_do_map");
  }

  /**
   * select_or_reject / prepare_select_or_reject (filters.py): {@code if value:} first, so a falsy input (None, an
   * empty list, Undefined) gives an empty generator and its arguments are not even checked.
   */
  private static Object select(Object v, Args a, boolean byAttr, boolean keep) {
    List<Object> out = new ArrayList<>();
    if (!PyValues.truthy(v)) {
      return PyIterator.generator(out, "select_or_reject");
    }
    int off = 0;
    Object attribute = null;
    if (byAttr) {
      if (a.pos.isEmpty()) {
        throw new TemplateException("FilterArgumentError", "Missing parameter for attribute name");
      }
      attribute = a.pos.get(0);
      off = 1;
    }
    Tests.Test test = null;
    Args testArgs = null;
    if (a.pos.size() > off) {
      String name = s(a.pos.get(off));
      test = Tests.get(name);
      if (test == null) {
        throw Errors.runtime("No test named '" + name + "'.");
      }
      testArgs = new Args(name, a.pos.subList(off + 1, a.pos.size()), a.kw);
    }
    for (Object x : PyValues.iterate(v)) {
      Object probe = byAttr ? attrPath(x, attribute) : x;
      boolean r = test == null ? PyValues.truthy(probe) : test.test(probe, testArgs);
      if (r == keep) {
        out.add(x);
      }
    }
    return PyIterator.generator(out, "select_or_reject");
  }

  private static Object first(Object v, Args a) {
    if (v instanceof PyIterator) {
      // next(iter(seq)) takes one item; the rest stay in the iterator
      Object x = ((PyIterator) v).next();
      return x == Undefined.MISSING ? Undefined.hint("No first item, sequence was empty.") : x;
    }
    List<Object> l = PyValues.iterate(v);
    return l.isEmpty() ? Undefined.hint("No first item, sequence was empty.") : l.get(0);
  }

  private static Object last(Object v, Args a) {
    if (v instanceof PyIterator) {
      // do_last: next(iter(reversed(seq))); a generator has no __reversed__
      throw Errors.type("'" + ((PyIterator) v).typeName() + "' object is not reversible");
    }
    List<Object> l = PyValues.iterate(v);
    return l.isEmpty() ? Undefined.hint("No last item, sequence was empty.") : l.get(l.size() - 1);
  }

  private static Object toInt(Object v, Args a) {
    v = Markup.plain(v);
    Object dflt = a.get(0, "default", 0L);
    long base = a.integer(1, "base", 10);
    try {
      if (v instanceof String) {
        String t = PyStr.strip((String) v, null).replace("_", "");
        if (base == 16 && (t.startsWith("0x") || t.startsWith("0X"))) {
          t = t.substring(2);
        } else if (base == 8 && (t.startsWith("0o") || t.startsWith("0O"))) {
          t = t.substring(2);
        } else if (base == 2 && (t.startsWith("0b") || t.startsWith("0B"))) {
          t = t.substring(2);
        }
        try {
          return PyValues.norm(new java.math.BigInteger(t, (int) base));
        } catch (NumberFormatException e) {
          double d = Double.parseDouble(t);
          if (Double.isNaN(d) || Double.isInfinite(d)) {
            return dflt;
          }
          return PyValues.norm(new BigDecimal(d).toBigInteger());
        }
      }
      if (PyValues.isInt(v) || v instanceof Boolean) {
        return PyValues.toLong(v);
      }
      if (PyValues.isFloat(v)) {
        double d = PyValues.toDouble(v);
        if (Double.isNaN(d) || Double.isInfinite(d)) {
          return dflt;
        }
        return PyValues.norm(new BigDecimal(d).toBigInteger());
      }
    } catch (NumberFormatException e) {
      return dflt;
    }
    return dflt;
  }

  private static Object toFloat(Object v, Args a) {
    v = Markup.plain(v);
    Object dflt = a.get(0, "default", 0.0);
    if (v instanceof String) {
      String t = PyStr.strip((String) v, null).replace("_", "");
      String low = t.toLowerCase(java.util.Locale.ROOT);
      if (low.equals("inf") || low.equals("+inf") || low.equals("infinity") || low.equals("+infinity")) {
        return Double.POSITIVE_INFINITY;
      }
      if (low.equals("-inf") || low.equals("-infinity")) {
        return Double.NEGATIVE_INFINITY;
      }
      if (low.equals("nan") || low.equals("+nan") || low.equals("-nan")) {
        return Double.NaN;
      }
      if (!t.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?")) {
        return dflt;
      }
      return Double.parseDouble(t);
    }
    if (PyValues.isNumeric(v)) {
      return PyValues.toDouble(v);
    }
    return dflt;
  }

  private static Object abs(Object v, Args a) {
    if (PyValues.isFloat(v)) {
      return Math.abs(PyValues.toDouble(v));
    }
    if (PyValues.isInt(v) || v instanceof Boolean) {
      return PyValues.norm(PyValues.toBig(v).abs());
    }
    if (v instanceof Undefined) {
      throw ((Undefined) v).fail();
    }
    throw Errors.type("bad operand type for abs(): '" + PyValues.typeName(v) + "'");
  }

  private static Object round(Object v, Args a) {
    long precision = a.integer(0, "precision", 0);
    String method = s(a.get(1, "method", "common"));
    if (!method.equals("common") && !method.equals("ceil") && !method.equals("floor")) {
      throw Errors.type("method must be common, ceil or floor");
    }
    if (v instanceof Undefined) {
      throw ((Undefined) v).fail();
    }
    if (!PyValues.isNumeric(v)) {
      throw Errors.type("type " + PyValues.typeName(v) + " doesn't define __round__ method");
    }
    if (method.equals("common")) {
      if (PyValues.isInt(v) || v instanceof Boolean) {
        // round(int, n) stays an int in Python
        BigDecimal r = new BigDecimal(PyValues.toBig(v)).setScale((int) precision, RoundingMode.HALF_EVEN);
        return PyValues.norm(r.setScale(0, RoundingMode.UNNECESSARY).toBigInteger());
      }
      double d = PyValues.toDouble(v);
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        return d;
      }
      return new BigDecimal(d).setScale((int) precision, RoundingMode.HALF_EVEN).doubleValue();
    }
    double scale = Math.pow(10, precision);
    double d = PyValues.toDouble(v) * scale;
    return (method.equals("ceil") ? Math.ceil(d) : Math.floor(d)) / scale;
  }

  private static Comparator<Object> ordering(boolean caseSensitive) {
    return (x, y) -> {
      Object kx = !caseSensitive && Markup.isStr(x) ? PyStr.lower(s(x)) : x;
      Object ky = !caseSensitive && Markup.isStr(y) ? PyStr.lower(s(y)) : y;
      return PyValues.compare(kx, ky, "<");
    };
  }

  private static Object dictsort(Object v, Args a) {
    if (!(v instanceof Map)) {
      throw Errors.type("can only sort mappings");
    }
    boolean cs = a.bool(0, "case_sensitive", false);
    String by = s(a.get(1, "by", "key"));
    boolean reverse = a.bool(2, "reverse", false);
    int pos;
    if (by.equals("key")) {
      pos = 0;
    } else if (by.equals("value")) {
      pos = 1;
    } else {
      throw Errors.runtime("You can only sort by either \"key\" or \"value\"");
    }
    List<Object> items = new ArrayList<>();
    for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
      items.add(PyTuple.of(e.getKey(), e.getValue()));
    }
    Comparator<Object> c = ordering(cs);
    Comparator<Object> byPos = (x, y) -> c.compare(((PyTuple) x).get(pos), ((PyTuple) y).get(pos));
    items.sort(reverse ? byPos.reversed() : byPos);
    return items;
  }

  private static Object unique(Object v, Args a) {
    boolean cs = a.bool(0, "case_sensitive", false);
    Object attribute = a.get(1, "attribute", null);
    List<Object> seen = new ArrayList<>();
    List<Object> out = new ArrayList<>();
    for (Object x : PyValues.iterate(v)) {
      Object key = attrPath(x, attribute);
      if (!cs && Markup.isStr(key)) {
        key = PyStr.lower(s(key));
      }
      if (key instanceof List || key instanceof Map) {
        // sync_do_unique keeps the keys in a set
        throw Errors.type("unhashable type: '" + PyValues.typeName(key) + "'");
      }
      boolean dup = false;
      for (Object s : seen) {
        if (PyValues.eq(s, key)) {
          dup = true;
          break;
        }
      }
      if (!dup) {
        seen.add(key);
        out.add(x);
      }
    }
    return PyIterator.generator(out, "sync_do_unique");
  }

  private static Object sort(Object v, Args a) {
    boolean reverse = a.bool(0, "reverse", false);
    boolean cs = a.bool(1, "case_sensitive", false);
    Object attribute = a.get(2, "attribute", null);
    List<Object> items = new ArrayList<>(PyValues.iterate(v));
    Comparator<Object> c = ordering(cs);
    Comparator<Object> byKey = attribute == null ? c
        : (x, y) -> c.compare(multiAttrPath(x, attribute, cs), multiAttrPath(y, attribute, cs));
    items.sort(reverse ? byKey.reversed() : byKey);
    return items;
  }

  private static Object indent(Object v, Args a) {
    Object width = a.get(0, "width", 4L);
    boolean first = a.bool(1, "first", false);
    boolean blank = a.bool(2, "blank", false);
    if (v instanceof Markup || width instanceof Markup) {
      return indentMarkup(v, width, first, blank);
    }
    String indention = width instanceof String ? (String) width : " ".repeat((int) Math.max(0, PyValues.toLong(width)));
    String str = s(v) + "\n";
    List<Object> lines = PyStr.splitlines(str, false);
    StringBuilder rv = new StringBuilder();
    if (blank) {
      for (int i = 0; i < lines.size(); i++) {
        if (i > 0) {
          rv.append('\n').append(indention);
        }
        rv.append(lines.get(i));
      }
    } else {
      rv.append(lines.isEmpty() ? "" : (String) lines.get(0));
      for (int i = 1; i < lines.size(); i++) {
        String line = (String) lines.get(i);
        rv.append('\n');
        if (!line.isEmpty()) {
          rv.append(indention);
        }
        rv.append(line);
      }
    }
    return first ? indention + rv : rv.toString();
  }

  /**
   * do_indent with a Markup in play, step by step with Python's operators: a Markup value makes the indention and the
   * newline Markups (so nothing is escaped); a Markup width with a plain value escapes the lines it is added to.
   */
  private static Object indentMarkup(Object v, Object width, boolean first, boolean blank) {
    Object indention = Markup.isStr(width) ? width : " ".repeat((int) Math.max(0, PyValues.toLong(width)));
    Object newline = "\n";
    if (v instanceof Markup) {
      indention = Markup.of(indention);
      newline = new Markup("\n");
    }
    Object sv = PyValues.add(v instanceof Markup ? v : s(v), newline);
    List<Object> lines = PyValues.iterate(PyValues.call(PyMethods.lookup(sv, "splitlines"), List.of(), Args.NO_KWARGS));
    Object rv;
    if (blank) {
      rv = joinWith(PyValues.add(newline, indention), lines);
    } else {
      rv = lines.get(0);
      if (lines.size() > 1) {
        List<Object> rest = new ArrayList<>();
        for (Object line : lines.subList(1, lines.size())) {
          rest.add(PyValues.truthy(line) ? PyValues.add(indention, line) : line);
        }
        rv = PyValues.add(rv, PyValues.add(newline, joinWith(newline, rest)));
      }
    }
    return first ? PyValues.add(indention, rv) : rv;
  }

  /** {@code sep.join(items)}: str.join gives a plain str, Markup.join escapes the items. */
  private static Object joinWith(Object sep, List<Object> items) {
    return PyValues.call(PyMethods.lookup(sep, "join"), List.of(items), Args.NO_KWARGS);
  }

  private static Object minmax(Object v, Args a, boolean max) {
    boolean cs = a.bool(0, "case_sensitive", false);
    Object attribute = a.get(1, "attribute", null);
    List<Object> items = PyValues.iterate(v);
    if (items.isEmpty()) {
      return Undefined.hint("No aggregated item, sequence was empty.");
    }
    Comparator<Object> c = ordering(cs);
    Object best = items.get(0);
    for (Object x : items.subList(1, items.size())) {
      int r = c.compare(attrPath(x, attribute), attrPath(best, attribute));
      if (max ? r > 0 : r < 0) {
        best = x;
      }
    }
    return best;
  }

  private static Object sum(Object v, Args a) {
    Object attribute = a.get(0, "attribute", null);
    Object total = a.get(1, "start", 0L);
    for (Object x : PyValues.iterate(v)) {
      total = PyValues.add(total, attrPath(x, attribute));
    }
    return total;
  }

  private static Object batch(Object v, Args a) {
    long n = a.integer(0, "linecount", 0);
    if (n <= 0) {
      throw Errors.value("batch size must be positive");
    }
    boolean fill = a.has(1, "fill_with");
    Object fillWith = a.get(1, "fill_with", null);
    List<Object> out = new ArrayList<>();
    List<Object> cur = new ArrayList<>();
    for (Object x : PyValues.iterate(v)) {
      if (cur.size() == n) {
        out.add(cur);
        cur = new ArrayList<>();
      }
      cur.add(x);
    }
    if (!cur.isEmpty()) {
      if (fill && fillWith != null) {
        while (cur.size() < n) {
          cur.add(fillWith);
        }
      }
      out.add(cur);
    }
    return PyIterator.generator(out, "do_batch");
  }

  private static Object truncate(Object v, Args a) {
    String str = s(v);
    long length = a.integer(0, "length", 255);
    boolean killwords = a.bool(1, "killwords", false);
    String end = s(a.get(2, "end", "..."));
    long leeway = a.integer(3, "leeway", 5);
    if (length < PyStr.len(end)) {
      throw Errors.runtime("expected length >= " + PyStr.len(end) + ", got " + length);
    }
    if (leeway < 0) {
      throw Errors.runtime("expected leeway >= 0, got " + leeway);
    }
    int len = PyStr.len(str);
    if (len <= length + leeway) {
      return v instanceof Markup ? v : str;
    }
    String cut = PyStr.substring(str, 0, (int) (length - PyStr.len(end)));
    if (!killwords) {
      int sp = cut.lastIndexOf(' ');
      cut = sp >= 0 ? cut.substring(0, sp) : cut;
    }
    // s[:n] + end: with a Markup on either side, Markup.__add__ / __radd__ escape the other
    Object endValue = a.get(2, "end", "...");
    if (v instanceof Markup || endValue instanceof Markup) {
      return PyValues.add(same(v, cut), endValue instanceof Markup ? endValue : end);
    }
    return cut + end;
  }

  static Map<String, Object> newKwargs() {
    return new LinkedHashMap<>();
  }
}
