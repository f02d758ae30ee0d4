package dev.jgen.prompt.jinja;

import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Jinja2's default globals plus the two transformers adds ({@code raise_exception}, {@code strftime_now}). */
final class Globals {
  private Globals() {}

  /** ImmutableSandboxedEnvironment's cap on range() sizes. */
  static final int MAX_RANGE = 100_000;

  static final Map<String, Object> GLOBALS;

  static {
    Map<String, Object> g = new HashMap<>();
    g.put("range", (PyCallable) Globals::range);
    g.put("namespace", (PyCallable) (args, kwargs) -> {
      Namespace ns = new Namespace();
      for (Object a : args) {
        fillDict(ns.attrs, a);
      }
      ns.attrs.putAll(kwargs);
      return ns;
    });
    g.put("dict", (PyCallable) (args, kwargs) -> {
      Map<Object, Object> m = new LinkedHashMap<>();
      if (args.size() > 1) {
        throw Errors.type("dict expected at most 1 argument, got " + args.size());
      }
      for (Object a : args) {
        fillDict(m, a);
      }
      m.putAll(kwargs);
      return m;
    });
    g.put("joiner", (PyCallable) (args, kwargs) -> {
      String sep = new Args("joiner", args, kwargs).str(0, "sep", ", ");
      boolean[] used = {false};
      return (PyCallable) (a2, k2) -> {
        if (!used[0]) {
          used[0] = true;
          return "";
        }
        return sep;
      };
    });
    g.put("raise_exception", (PyCallable) (args, kwargs) -> {
      Object msg = new Args("raise_exception", args, kwargs).required(0, "message");
      throw new TemplateException("TemplateError", PyValues.str(msg));
    });
    g.put("strftime_now", (PyCallable) (args, kwargs) -> {
      Object fmt = new Args("strftime_now", args, kwargs).required(0, "format");
      if (!Markup.isStr(fmt)) {
        throw Errors.type("strftime() argument 1 must be str, not " + PyValues.typeName(fmt));
      }
      return Strftime.format(ZonedDateTime.now(), PyValues.str(fmt));
    });
    GLOBALS = Map.copyOf(g);
  }

  @SuppressWarnings("unchecked")
  private static void fillDict(Map<?, ?> target, Object source) {
    Map<Object, Object> t = (Map<Object, Object>) target;
    if (source instanceof Map) {
      t.putAll((Map<?, ?>) source);
      return;
    }
    for (Object pair : PyValues.iterate(source)) {
      List<Object> kv = PyValues.iterate(pair);
      if (kv.size() != 2) {
        throw Errors.value("dictionary update sequence element has length " + kv.size() + "; 2 is required");
      }
      t.put(kv.get(0), kv.get(1));
    }
  }

  private static Object range(List<Object> args, Map<String, Object> kwargs) {
    if (!kwargs.isEmpty()) {
      throw Errors.type("range() takes no keyword arguments");
    }
    if (args.isEmpty() || args.size() > 3) {
      throw Errors.type("range expected at most 3 arguments, got " + args.size());
    }
    long start = 0;
    long stop;
    long step = 1;
    for (Object a : args) {
      if (!(PyValues.isInt(a) || a instanceof Boolean)) {
        throw Errors.type("'" + PyValues.typeName(a) + "' object cannot be interpreted as an integer");
      }
    }
    if (args.size() == 1) {
      stop = PyValues.toLong(args.get(0));
    } else {
      start = PyValues.toLong(args.get(0));
      stop = PyValues.toLong(args.get(1));
      if (args.size() == 3) {
        step = PyValues.toLong(args.get(2));
      }
    }
    if (step == 0) {
      throw Errors.value("range() arg 3 must not be zero");
    }
    long count = step > 0 ? Math.max(0, (stop - start + step - 1) / step) : Math.max(0, (start - stop - step - 1) / -step);
    if (count > MAX_RANGE) {
      throw Errors.overflow("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + MAX_RANGE + ").");
    }
    List<Object> out = new ArrayList<>((int) count);
    for (long i = 0, v = start; i < count; i++, v += step) {
      out.add(v);
    }
    return out;
  }
}
