package dev.jgen.prompt.jinja;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Python value semantics over the Java values a template sees: null is None, Map is dict, List is list, PyTuple is
 * tuple, Long/Integer are int (Boolean counts as int in arithmetic, as in Python), Double/Float are float.
 */
final class PyValues {
  private PyValues() {}

  /** Objects with Python attributes of their own (namespace, loop). */
  interface PyObject {
    /** The attribute, or {@link Undefined#MISSING}. */
    Object getAttr(String name);

    String typeName();

    /** Like {@code object_type_repr}: how Jinja names the object in "has no attribute" messages. */
    String objectTypeRepr();
  }

  // ---------------------------------------------------------------- types

  static boolean isInt(Object o) {
    return o instanceof Long || o instanceof Integer || o instanceof Short || o instanceof Byte
        || o instanceof BigInteger;
  }

  static boolean isFloat(Object o) {
    return o instanceof Double || o instanceof Float || o instanceof BigDecimal;
  }

  /** int, float or bool: the operand types of Python arithmetic. */
  static boolean isNumeric(Object o) {
    return isInt(o) || isFloat(o) || o instanceof Boolean;
  }

  static String typeName(Object o) {
    if (o == null) {
      return "NoneType";
    }
    if (o instanceof Boolean) {
      return "bool";
    }
    if (isInt(o)) {
      return "int";
    }
    if (isFloat(o)) {
      return "float";
    }
    if (o instanceof String) {
      return "str";
    }
    if (o instanceof Markup) {
      return "Markup";
    }
    if (o instanceof PyTuple) {
      return "tuple";
    }
    if (o instanceof List) {
      return "list";
    }
    if (o instanceof Map) {
      return "dict";
    }
    if (o instanceof Undefined) {
      return "Undefined";
    }
    if (o instanceof PyObject) {
      return ((PyObject) o).typeName();
    }
    if (o instanceof Nodes.Macro) {
      return "Macro";
    }
    if (o instanceof PyCallable) {
      return "builtin_function_or_method";
    }
    return o.getClass().getSimpleName();
  }

  static String objectTypeRepr(Object o) {
    if (o == null) {
      return "None";
    }
    if (o instanceof PyObject) {
      return ((PyObject) o).objectTypeRepr();
    }
    if (o instanceof Nodes.Macro) {
      return "jinja2.runtime.Macro object";
    }
    if (o instanceof Markup) {
      // utils.object_type_repr names classes outside builtins with their module
      return "markupsafe.Markup object";
    }
    return typeName(o) + " object";
  }

  static long toLong(Object o) {
    if (o instanceof Boolean) {
      return ((Boolean) o) ? 1 : 0;
    }
    if (o instanceof BigInteger) {
      try {
        return ((BigInteger) o).longValueExact();
      } catch (ArithmeticException e) {
        throw Errors.overflow("Python int too large to convert to C ssize_t");
      }
    }
    if (!(o instanceof Number)) {
      // where Python wants an int (a width, a count, an index) and gets another type
      if (o instanceof Undefined) {
        throw ((Undefined) o).fail();
      }
      throw Errors.type("'" + typeName(o) + "' object cannot be interpreted as an integer");
    }
    return ((Number) o).longValue();
  }

  static double toDouble(Object o) {
    if (o instanceof Boolean) {
      return ((Boolean) o) ? 1 : 0;
    }
    if (o instanceof Float) {
      return Double.parseDouble(o.toString());
    }
    if (!(o instanceof Number)) {
      if (o instanceof Undefined) {
        throw ((Undefined) o).fail();
      }
      throw Errors.type("must be real number, not " + typeName(o));
    }
    return ((Number) o).doubleValue();
  }

  static BigInteger toBig(Object o) {
    if (o instanceof BigInteger) {
      return (BigInteger) o;
    }
    return BigInteger.valueOf(toLong(o));
  }

  /** Narrows a big result back to Long when it fits, so ordinary arithmetic stays on the fast path. */
  static Object norm(BigInteger b) {
    return b.bitLength() < 64 ? (Object) b.longValue() : b;
  }

  /** An int (or bool) usable as an index; anything else is Python's TypeError. */
  static long toIndex(Object o) {
    if (isInt(o) || o instanceof Boolean) {
      return toLong(o);
    }
    throw Errors.type("slice indices must be integers or None or have an __index__ method");
  }

  // ---------------------------------------------------------------- str / repr

  /** Python's {@code str(x)}, with Jinja's Undefined as ''. */
  static String str(Object o) {
    if (o instanceof String) {
      return (String) o;
    }
    if (o instanceof Markup) {
      return ((Markup) o).s;
    }
    if (o == null) {
      return "None";
    }
    if (o instanceof Boolean) {
      return ((Boolean) o) ? "True" : "False";
    }
    if (o instanceof Long || o instanceof Integer || o instanceof BigInteger || o instanceof Short
        || o instanceof Byte) {
      return o.toString();
    }
    if (isFloat(o)) {
      return floatRepr(toDouble(o));
    }
    if (o instanceof Undefined) {
      return "";
    }
    if (o instanceof List || o instanceof Map || o instanceof PyObject || o instanceof PyCallable) {
      return repr(o);
    }
    return String.valueOf(o);
  }

  static String repr(Object o) {
    if (o instanceof String) {
      return PyStr.repr((String) o);
    }
    StringBuilder sb = new StringBuilder();
    appendRepr(sb, o);
    return sb.toString();
  }

  private static void appendRepr(StringBuilder sb, Object o) {
    if (o instanceof String) {
      sb.append(PyStr.repr((String) o));
    } else if (o instanceof Markup) {
      // Markup.__repr__: f"{self.__class__.__name__}({super().__repr__()})"
      sb.append("Markup(").append(PyStr.repr(((Markup) o).s)).append(')');
    } else if (o instanceof PyTuple) {
      PyTuple t = (PyTuple) o;
      sb.append('(');
      for (int i = 0; i < t.size(); i++) {
        if (i > 0) {
          sb.append(", ");
        }
        appendRepr(sb, t.get(i));
      }
      if (t.size() == 1) {
        sb.append(',');
      }
      sb.append(')');
    } else if (o instanceof List) {
      sb.append('[');
      boolean first = true;
      for (Object x : (List<?>) o) {
        if (!first) {
          sb.append(", ");
        }
        first = false;
        appendRepr(sb, x);
      }
      sb.append(']');
    } else if (o instanceof Map) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
        if (!first) {
          sb.append(", ");
        }
        first = false;
        appendRepr(sb, e.getKey());
        sb.append(": ");
        appendRepr(sb, e.getValue());
      }
      sb.append('}');
    } else if (o instanceof Undefined) {
      sb.append("Undefined");
    } else if (o instanceof PyObject || o instanceof PyCallable) {
      sb.append(o.toString());
    } else {
      sb.append(str(o));
    }
  }

  /** Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16 on. */
  static String floatRepr(double d) {
    if (Double.isNaN(d)) {
      return "nan";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "inf" : "-inf";
    }
    if (d == 0) {
      return (1 / d < 0) ? "-0.0" : "0.0";
    }
    if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      return ((long) d) + ".0";
    }
    BigDecimal exact = new BigDecimal(d);
    BigDecimal shortest = null;
    for (int p = 1; p <= 17; p++) {
      BigDecimal r = exact.round(new MathContext(p, RoundingMode.HALF_EVEN));
      if (r.doubleValue() == d) {
        shortest = r;
        break;
      }
    }
    if (shortest == null) {
      shortest = exact.round(new MathContext(17, RoundingMode.HALF_EVEN));
    }
    BigDecimal abs = shortest.abs().stripTrailingZeros();
    String digits = abs.unscaledValue().toString();
    int decpt = digits.length() - abs.scale(); // value = 0.DIGITS * 10^decpt
    StringBuilder sb = new StringBuilder();
    if (d < 0) {
      sb.append('-');
    }
    if (decpt > -4 && decpt <= 16) {
      if (decpt <= 0) {
        sb.append("0.").append("0".repeat(-decpt)).append(digits);
      } else if (decpt >= digits.length()) {
        sb.append(digits).append("0".repeat(decpt - digits.length())).append(".0");
      } else {
        sb.append(digits, 0, decpt).append('.').append(digits.substring(decpt));
      }
    } else {
      sb.append(digits.charAt(0));
      if (digits.length() > 1) {
        sb.append('.').append(digits.substring(1));
      }
      int exp = decpt - 1;
      sb.append('e').append(exp < 0 ? '-' : '+');
      int ae = Math.abs(exp);
      if (ae < 10) {
        sb.append('0');
      }
      sb.append(ae);
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------- truth, equality, ordering

  static boolean truthy(Object o) {
    if (o == null) {
      return false;
    }
    if (o instanceof Boolean) {
      return (Boolean) o;
    }
    if (o instanceof String) {
      return !((String) o).isEmpty();
    }
    if (o instanceof Markup) {
      return !((Markup) o).s.isEmpty();
    }
    if (o instanceof Undefined) {
      return false;
    }
    if (isInt(o)) {
      return o instanceof BigInteger ? ((BigInteger) o).signum() != 0 : ((Number) o).longValue() != 0;
    }
    if (isFloat(o)) {
      return toDouble(o) != 0;
    }
    if (o instanceof Collection) {
      return !((Collection<?>) o).isEmpty();
    }
    if (o instanceof Map) {
      return !((Map<?, ?>) o).isEmpty();
    }
    return true;
  }

  static boolean eq(Object a, Object b) {
    a = Markup.plain(a);
    b = Markup.plain(b);
    if (a == b) {
      return true;
    }
    if (a == null || b == null) {
      return false;
    }
    if (a instanceof Undefined || b instanceof Undefined) {
      return a instanceof Undefined && b instanceof Undefined;
    }
    if (isNumeric(a) && isNumeric(b)) {
      if (isFloat(a) || isFloat(b)) {
        return toDouble(a) == toDouble(b);
      }
      if (a instanceof BigInteger || b instanceof BigInteger) {
        return toBig(a).equals(toBig(b));
      }
      return toLong(a) == toLong(b);
    }
    if (a instanceof String || b instanceof String) {
      return a.equals(b);
    }
    if (a instanceof List && b instanceof List) {
      if ((a instanceof PyTuple) != (b instanceof PyTuple)) {
        return false;
      }
      List<?> la = (List<?>) a;
      List<?> lb = (List<?>) b;
      if (la.size() != lb.size()) {
        return false;
      }
      Iterator<?> ib = lb.iterator();
      for (Object x : la) {
        if (!eq(x, ib.next())) {
          return false;
        }
      }
      return true;
    }
    if (a instanceof Map && b instanceof Map) {
      Map<?, ?> ma = (Map<?, ?>) a;
      Map<?, ?> mb = (Map<?, ?>) b;
      if (ma.size() != mb.size()) {
        return false;
      }
      for (Map.Entry<?, ?> e : ma.entrySet()) {
        Object k = findKey(mb, e.getKey());
        if (k == Undefined.MISSING || !eq(e.getValue(), mb.get(k))) {
          return false;
        }
      }
      return true;
    }
    return a.equals(b);
  }

  /** Python ordering for {@code <}: numbers, strings (by code point) and same-kind sequences. */
  static int compare(Object a, Object b, String op) {
    if (a instanceof Markup && Markup.isStr(b) || b instanceof Markup && Markup.isStr(a)) {
      return PyStr.compare(str(a), str(b));
    }
    if (a instanceof Undefined) {
      throw ((Undefined) a).fail();
    }
    if (b instanceof Undefined) {
      throw ((Undefined) b).fail();
    }
    if (isNumeric(a) && isNumeric(b)) {
      if (isFloat(a) || isFloat(b)) {
        return Double.compare(toDouble(a), toDouble(b));
      }
      if (a instanceof BigInteger || b instanceof BigInteger) {
        return toBig(a).compareTo(toBig(b));
      }
      return Long.compare(toLong(a), toLong(b));
    }
    if (a instanceof String && b instanceof String) {
      return PyStr.compare((String) a, (String) b);
    }
    if (a instanceof List && b instanceof List && (a instanceof PyTuple) == (b instanceof PyTuple)) {
      List<?> la = (List<?>) a;
      List<?> lb = (List<?>) b;
      for (int i = 0; i < Math.min(la.size(), lb.size()); i++) {
        if (!eq(la.get(i), lb.get(i))) {
          return compare(la.get(i), lb.get(i), op);
        }
      }
      return Integer.compare(la.size(), lb.size());
    }
    throw Errors.type("'" + op + "' not supported between instances of '" + typeName(a) + "' and '" + typeName(b)
        + "'");
  }

  // ---------------------------------------------------------------- arithmetic

  private static void checkDefined(Object a, Object b) {
    if (a instanceof Undefined) {
      throw ((Undefined) a).fail();
    }
    if (b instanceof Undefined) {
      throw ((Undefined) b).fail();
    }
  }

  private static RuntimeException unsupported(String op, Object a, Object b) {
    return Errors.type("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '" + typeName(b) + "'");
  }

  static Object add(Object a, Object b) {
    checkDefined(a, b);
    if (a instanceof String && b instanceof String) {
      return (String) a + (String) b;
    }
    if (a instanceof Markup || b instanceof Markup) {
      // Markup.__add__ / __radd__ (a str subclass's reflected method runs first): the plain str side is escaped;
      // any other operand type is NotImplemented on both sides
      if (Markup.isStr(a) && Markup.isStr(b)) {
        return new Markup(Markup.escape(a).s + Markup.escape(b).s);
      }
      throw unsupported("+", a, b);
    }
    if (isNumeric(a) && isNumeric(b)) {
      if (isFloat(a) || isFloat(b)) {
        return toDouble(a) + toDouble(b);
      }
      if (!(a instanceof BigInteger) && !(b instanceof BigInteger)) {
        try {
          return Math.addExact(toLong(a), toLong(b));
        } catch (ArithmeticException e) {
          // fall through to arbitrary precision, like Python ints
        }
      }
      return norm(toBig(a).add(toBig(b)));
    }
    if (a instanceof List && b instanceof List && (a instanceof PyTuple) == (b instanceof PyTuple)) {
      List<Object> out = new ArrayList<>((List<?>) a);
      out.addAll((List<?>) b);
      return a instanceof PyTuple ? PyTuple.copyOf(out) : out;
    }
    if (a instanceof String || a instanceof List) {
      String t = a instanceof String ? "str" : typeName(a);
      throw Errors.type("can only concatenate " + t + " (not \"" + typeName(b) + "\") to " + t);
    }
    throw unsupported("+", a, b);
  }

  static Object sub(Object a, Object b) {
    checkDefined(a, b);
    if (isNumeric(a) && isNumeric(b)) {
      if (isFloat(a) || isFloat(b)) {
        return toDouble(a) - toDouble(b);
      }
      if (!(a instanceof BigInteger) && !(b instanceof BigInteger)) {
        try {
          return Math.subtractExact(toLong(a), toLong(b));
        } catch (ArithmeticException e) {
          // arbitrary precision below
        }
      }
      return norm(toBig(a).subtract(toBig(b)));
    }
    throw unsupported("-", a, b);
  }

  static Object mul(Object a, Object b) {
    checkDefined(a, b);
    if (isNumeric(a) && isNumeric(b)) {
      if (isFloat(a) || isFloat(b)) {
        return toDouble(a) * toDouble(b);
      }
      if (!(a instanceof BigInteger) && !(b instanceof BigInteger)) {
        try {
          return Math.multiplyExact(toLong(a), toLong(b));
        } catch (ArithmeticException e) {
          // arbitrary precision below
        }
      }
      return norm(toBig(a).multiply(toBig(b)));
    }
    if (a instanceof Markup && (isInt(b) || b instanceof Boolean)) {
      return new Markup((String) repeat(((Markup) a).s, toLong(b)));
    }
    if (b instanceof Markup && (isInt(a) || a instanceof Boolean)) {
      return new Markup((String) repeat(((Markup) b).s, toLong(a)));
    }
    if ((a instanceof String || a instanceof List) && (isInt(b) || b instanceof Boolean)) {
      return repeat(a, toLong(b));
    }
    if ((b instanceof String || b instanceof List) && (isInt(a) || a instanceof Boolean)) {
      return repeat(b, toLong(a));
    }
    if (b instanceof Markup && !(a instanceof Markup)) {
      // Markup.__rmul__ runs first and multiplies the Markup by the left operand
      throw Errors.type("can't multiply sequence by non-int of type '" + typeName(a) + "'");
    }
    throw Errors.type(Markup.isStr(a) || a instanceof List || Markup.isStr(b) || b instanceof List
        ? "can't multiply sequence by non-int of type '" + typeName(Markup.isStr(a) || a instanceof List ? b : a)
            + "'"
        : "unsupported operand type(s) for *: '" + typeName(a) + "' and '" + typeName(b) + "'");
  }

  private static Object repeat(Object seq, long times) {
    if (times > 10_000_000L) {
      throw Errors.overflow("repeated sequence too long");
    }
    int t = (int) Math.max(0, times);
    if (seq instanceof String) {
      return ((String) seq).repeat(t);
    }
    List<Object> out = new ArrayList<>();
    for (int i = 0; i < t; i++) {
      out.addAll((List<?>) seq);
    }
    return seq instanceof PyTuple ? PyTuple.copyOf(out) : out;
  }

  static Object truediv(Object a, Object b) {
    checkDefined(a, b);
    if (isNumeric(a) && isNumeric(b)) {
      double db = toDouble(b);
      if (db == 0) {
        throw Errors.zeroDiv(isFloat(a) || isFloat(b) ? "float division by zero" : "division by zero");
      }
      return toDouble(a) / db;
    }
    throw unsupported("/", a, b);
  }

  static Object floordiv(Object a, Object b) {
    checkDefined(a, b);
    if (isNumeric(a) && isNumeric(b)) {
      if (isFloat(a) || isFloat(b)) {
        double db = toDouble(b);
        if (db == 0) {
          throw Errors.zeroDiv("float floor division by zero");
        }
        return Math.floor(toDouble(a) / db);
      }
      if (toBig(b).signum() == 0) {
        throw Errors.zeroDiv("integer division or modulo by zero");
      }
      if (a instanceof BigInteger || b instanceof BigInteger) {
        BigInteger[] qr = toBig(a).divideAndRemainder(toBig(b));
        BigInteger q = qr[0];
        if (qr[1].signum() != 0 && qr[1].signum() != toBig(b).signum()) {
          q = q.subtract(BigInteger.ONE);
        }
        return norm(q);
      }
      return Math.floorDiv(toLong(a), toLong(b));
    }
    throw unsupported("//", a, b);
  }

  static Object mod(Object a, Object b) {
    checkDefined(a, b);
    if (a instanceof String) {
      return PyFormat.percent((String) a, b);
    }
    if (a instanceof Markup) {
      return markupPercent((Markup) a, b);
    }
    if (isNumeric(a) && isNumeric(b)) {
      if (isFloat(a) || isFloat(b)) {
        double x = toDouble(a);
        double y = toDouble(b);
        if (y == 0) {
          throw Errors.zeroDiv("float modulo");
        }
        double r = x % y;
        if (r != 0 && (r < 0) != (y < 0)) {
          r += y;
        }
        return r;
      }
      if (toBig(b).signum() == 0) {
        throw Errors.zeroDiv("integer division or modulo by zero");
      }
      if (a instanceof BigInteger || b instanceof BigInteger) {
        BigInteger r = toBig(a).mod(toBig(b).abs());
        if (toBig(b).signum() < 0 && r.signum() != 0) {
          r = r.add(toBig(b));
        }
        return norm(r);
      }
      return Math.floorMod(toLong(a), toLong(b));
    }
    throw unsupported("%", a, b);
  }

  /**
   * Markup.__mod__: the arguments wrapped in _MarkupEscapeHelper (a tuple's items each, a non-str value with
   * __getitem__ as a mapping, anything else as one argument), so %s and %r insert escaped text; a Markup.
   */
  static Markup markupPercent(Markup fmt, Object args) {
    return new Markup(PyFormat.percent(fmt.s, args, true));
  }

  static Object pow(Object a, Object b) {
    checkDefined(a, b);
    if (isNumeric(a) && isNumeric(b)) {
      if (isFloat(a) || isFloat(b) || toBig(b).signum() < 0) {
        double x = toDouble(a);
        double y = toDouble(b);
        if (x == 0 && y < 0) {
          throw Errors.zeroDiv("0.0 cannot be raised to a negative power");
        }
        return Math.pow(x, y);
      }
      long e = toLong(b);
      if (e > 100_000) {
        throw Errors.overflow("exponent too large");
      }
      return norm(toBig(a).pow((int) e));
    }
    throw unsupported("** or pow()", a, b);
  }

  static Object neg(Object a) {
    if (a instanceof Undefined) {
      throw ((Undefined) a).fail();
    }
    if (isFloat(a)) {
      return -toDouble(a);
    }
    if (isInt(a) || a instanceof Boolean) {
      return norm(toBig(a).negate());
    }
    throw Errors.type("bad operand type for unary -: '" + typeName(a) + "'");
  }

  static Object pos(Object a) {
    if (a instanceof Undefined) {
      throw ((Undefined) a).fail();
    }
    if (isFloat(a)) {
      return toDouble(a);
    }
    if (isInt(a) || a instanceof Boolean) {
      return toLong(a);
    }
    throw Errors.type("bad operand type for unary +: '" + typeName(a) + "'");
  }

  // ---------------------------------------------------------------- containers

  static int len(Object o) {
    o = Markup.plain(o);
    if (o instanceof String) {
      return PyStr.len((String) o);
    }
    if (o instanceof Collection) {
      return ((Collection<?>) o).size();
    }
    if (o instanceof Map) {
      return ((Map<?, ?>) o).size();
    }
    if (o instanceof Undefined) {
      return 0;
    }
    if (o instanceof Namespace) {
      throw Errors.type("object of type 'Namespace' has no len()");
    }
    throw Errors.type("object of type '" + typeName(o) + "' has no len()");
  }

  /** What a Python {@code for} loop over {@code o} yields, as a list. */
  @SuppressWarnings("unchecked")
  static List<Object> iterate(Object o) {
    if (o instanceof List) {
      return (List<Object>) o;
    }
    o = Markup.plain(o);
    if (o instanceof String) {
      return PyStr.chars((String) o);
    }
    if (o instanceof Map) {
      return new ArrayList<>(((Map<Object, ?>) o).keySet());
    }
    if (o instanceof Collection) {
      return new ArrayList<>((Collection<Object>) o);
    }
    if (o instanceof Undefined) {
      return List.of();
    }
    if (o instanceof PyIterator) {
      return ((PyIterator) o).drain();
    }
    throw Errors.type("'" + typeName(o) + "' object is not iterable");
  }

  static boolean isIterable(Object o) {
    return o instanceof List || o instanceof String || o instanceof Markup || o instanceof Map || o instanceof Collection
        || o instanceof Undefined || o instanceof PyIterator;
  }

  /** Python {@code item in container}. */
  static boolean contains(Object container, Object item) {
    container = Markup.plain(container);
    if (container instanceof String) {
      item = Markup.plain(item);
      if (item instanceof Undefined) {
        throw ((Undefined) item).fail();
      }
      if (!(item instanceof String)) {
        throw Errors.type("'in <string>' requires string as left operand, not " + typeName(item));
      }
      return ((String) container).contains((String) item);
    }
    if (container instanceof Map) {
      return findKey((Map<?, ?>) container, item) != Undefined.MISSING;
    }
    if (container instanceof Collection) {
      for (Object x : (Collection<?>) container) {
        if (eq(x, item)) {
          return true;
        }
      }
      return false;
    }
    if (container instanceof Undefined) {
      return false;
    }
    if (container instanceof PyIterator) {
      // Python consumes an iterator up to the first equal item
      PyIterator it = (PyIterator) container;
      for (Object x = it.next(); x != Undefined.MISSING; x = it.next()) {
        if (eq(x, item)) {
          return true;
        }
      }
      return false;
    }
    throw Errors.type("argument of type '" + typeName(container) + "' is not iterable");
  }

  /** The key of {@code m} equal to {@code key} in Python's sense (1 == 1.0 == True), or MISSING. */
  static Object findKey(Map<?, ?> m, Object key) {
    key = Markup.plain(key);
    if (m.containsKey(key)) {
      return key;
    }
    if (key instanceof String) {
      // a Markup key equals (and hashes like) its str
      for (Object k : m.keySet()) {
        if (k instanceof Markup && ((Markup) k).s.equals(key)) {
          return k;
        }
      }
    }
    if (isNumeric(key)) {
      for (Object k : m.keySet()) {
        if (isNumeric(k) && eq(k, key)) {
          return k;
        }
      }
    }
    return Undefined.MISSING;
  }

  // ---------------------------------------------------------------- attribute / item access (sandboxed)

  /** Jinja's sandboxed {@code getattr}: Python attribute first (methods), then the item of that name. */
  static Object getattr(Object obj, String name) {
    if (obj instanceof Undefined) {
      throw ((Undefined) obj).fail();
    }
    if (name.startsWith("__")) {
      return Undefined.unsafe(obj, name);
    }
    if (obj instanceof PyObject) {
      Object v = ((PyObject) obj).getAttr(name);
      return v == Undefined.MISSING ? Undefined.member(obj, name) : v;
    }
    Object m = PyMethods.lookup(obj, name);
    if (m != null) {
      return m;
    }
    if (obj instanceof Map) {
      Map<?, ?> map = (Map<?, ?>) obj;
      Object k = findKey(map, name);
      if (k != Undefined.MISSING) {
        return map.get(k);
      }
    }
    return Undefined.member(obj, name);
  }

  /** Jinja's {@code getitem}: the item first, then (for string keys) the attribute of that name. */
  static Object getitem(Object obj, Object key) {
    if (obj instanceof Undefined) {
      throw ((Undefined) obj).fail();
    }
    if (key instanceof PySlice) {
      return slice(obj, (PySlice) key);
    }
    if (obj instanceof Map) {
      Map<?, ?> map = (Map<?, ?>) obj;
      Object k = findKey(map, key);
      if (k != Undefined.MISSING) {
        return map.get(k);
      }
    } else if (obj instanceof List && (isInt(key) || key instanceof Boolean)) {
      List<?> l = (List<?>) obj;
      long i = toLong(key);
      if (i < 0) {
        i += l.size();
      }
      if (i >= 0 && i < l.size()) {
        return l.get((int) i);
      }
    } else if (Markup.isStr(obj) && (isInt(key) || key instanceof Boolean)) {
      String s = str(obj);
      long i = toLong(key);
      int n = PyStr.len(s);
      if (i < 0) {
        i += n;
      }
      if (i >= 0 && i < n) {
        // Markup.__getitem__ returns a Markup
        String c = PyStr.substring(s, (int) i, (int) i + 1);
        return obj instanceof Markup ? new Markup(c) : c;
      }
    }
    if (Markup.isStr(key)) {
      return getattr(obj, str(key));
    }
    return Undefined.member(obj, key);
  }

  static Object slice(Object obj, PySlice sl) {
    if (obj instanceof Markup) {
      return new Markup((String) slice(((Markup) obj).s, sl));
    }
    if (obj instanceof String) {
      String s = (String) obj;
      int n = PyStr.len(s);
      int[] idx = sl.indices(n);
      if (sl.simple()) {
        return idx.length == 0 ? "" : PyStr.substring(s, idx[0], idx[idx.length - 1] + 1);
      }
      List<Object> cs = PyStr.chars(s);
      StringBuilder sb = new StringBuilder();
      for (int i : idx) {
        sb.append((String) cs.get(i));
      }
      return sb.toString();
    }
    if (obj instanceof List) {
      List<?> l = (List<?>) obj;
      int[] idx = sl.indices(l.size());
      List<Object> out = new ArrayList<>(idx.length);
      for (int i : idx) {
        out.add(l.get(i));
      }
      return obj instanceof PyTuple ? PyTuple.copyOf(out) : out;
    }
    return Undefined.member(obj, sl);
  }

  static Object call(Object fn, List<Object> args, Map<String, Object> kwargs) {
    if (fn instanceof PyCallable) {
      return ((PyCallable) fn).call(args, kwargs);
    }
    if (fn instanceof Undefined) {
      throw ((Undefined) fn).fail();
    }
    throw Errors.type("'" + typeName(fn) + "' object is not callable");
  }
}
