package dev.jgen.prompt.jinja;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Jinja2's built-in tests ({@code x is defined}, {@code x is string}, ...). */
final class Tests {
  private Tests() {}

  interface Test {
    boolean test(Object v, Args a);
  }

  static final Map<String, Test> TESTS = new HashMap<>();

  static Test get(String name) {
    return TESTS.get(name);
  }

  private static void reg(Test t, String... names) {
    for (String n : names) {
      TESTS.put(n, t);
    }
  }

  private static Object other(Args a) {
    return a.required(0, "other");
  }

  static {
    reg((v, a) -> !(v instanceof Undefined), "defined");
    reg((v, a) -> v instanceof Undefined, "undefined");
    reg((v, a) -> v == null, "none");
    reg((v, a) -> v instanceof Boolean, "boolean");
    reg((v, a) -> Boolean.TRUE.equals(v), "true");
    reg((v, a) -> Boolean.FALSE.equals(v), "false");
    reg((v, a) -> PyValues.isInt(v), "integer");
    reg((v, a) -> PyValues.isFloat(v), "float");
    reg((v, a) -> PyValues.isNumeric(v), "number");
    reg((v, a) -> Markup.isStr(v), "string");
    reg((v, a) -> v instanceof Map, "mapping");
    reg((v, a) -> Markup.isStr(v) || v instanceof List || v instanceof Map || v instanceof Undefined
        || v instanceof java.util.Collection, "sequence");
    reg((v, a) -> PyValues.isIterable(v), "iterable");
    reg((v, a) -> v instanceof PyCallable, "callable");
    // tests.py test_lower / test_upper: str(value).islower() -- any value, and a string needs a cased character
    // ("123" is not lower)
    reg((v, a) -> isLower(PyValues.str(v)), "lower");
    reg((v, a) -> isUpper(PyValues.str(v)), "upper");
    // tests.py test_odd / test_even: value % 2 == 1 / == 0 with Python's %, so 3.5 is neither odd nor even
    reg((v, a) -> PyValues.eq(PyValues.mod(v, 2L), 1L), "odd");
    reg((v, a) -> PyValues.eq(PyValues.mod(v, 2L), 0L), "even");
    reg((v, a) -> PyValues.eq(PyValues.mod(v, a.required(0, "num")), 0L), "divisibleby");
    reg((v, a) -> PyValues.eq(v, other(a)), "eq", "equalto", "==");
    reg((v, a) -> !PyValues.eq(v, other(a)), "ne", "!=");
    reg((v, a) -> PyValues.compare(v, other(a), "<") < 0, "lt", "lessthan", "<");
    reg((v, a) -> PyValues.compare(v, other(a), "<=") <= 0, "le", "<=");
    reg((v, a) -> PyValues.compare(v, other(a), ">") > 0, "gt", "greaterthan", ">");
    reg((v, a) -> PyValues.compare(v, other(a), ">=") >= 0, "ge", ">=");
    reg((v, a) -> PyValues.contains(a.required(0, "seq"), v), "in");
    reg((v, a) -> sameas(v, other(a)), "sameas");
    // tests.py test_escaped: hasattr(value, "__html__"), which only a Markup has here
    reg((v, a) -> v instanceof Markup, "escaped");
    reg((v, a) -> Markup.isStr(v) && Filters.get(PyValues.str(v)) != null, "filter");
    reg((v, a) -> Markup.isStr(v) && TESTS.containsKey(PyValues.str(v)), "test");
  }

  /** Python identity: None/True/False are singletons and CPython caches small ints, so those compare as equal. */
  private static boolean sameas(Object v, Object o) {
    if (v == o) {
      return true;
    }
    if (v == null || o == null) {
      return false;
    }
    if (v instanceof Boolean || o instanceof Boolean) {
      return v.equals(o);
    }
    if (PyValues.isInt(v) && PyValues.isInt(o) && PyValues.eq(v, o)) {
      long x = PyValues.toLong(v);
      return x >= -5 && x <= 256;
    }
    return false;
  }

  static boolean isLower(String s) {
    return s.codePoints().anyMatch(Character::isLowerCase)
        && s.codePoints().noneMatch(c -> Character.isUpperCase(c) || Character.isTitleCase(c));
  }

  static boolean isUpper(String s) {
    return s.codePoints().anyMatch(Character::isUpperCase)
        && s.codePoints().noneMatch(c -> Character.isLowerCase(c) || Character.isTitleCase(c));
  }


}
