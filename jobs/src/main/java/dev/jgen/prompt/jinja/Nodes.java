package dev.jgen.prompt.jinja;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The AST. Each node evaluates itself (a tree-walking interpreter): nodes are immutable after parsing, and all
 * render state lives in {@link Frame}s and the output buffer, so one compiled template serves any number of threads.
 */
final class Nodes {
  private Nodes() {}

  static final int NORMAL = 0;
  static final int BREAK = 1;
  static final int CONTINUE = 2;

  // ====================================================================== expressions

  abstract static class Expr {
    final int line;

    Expr(int line) {
      this.line = line;
    }

    abstract Object eval(Frame f);
  }

  static final class Const extends Expr {
    final Object value;

    Const(int line, Object value) {
      super(line);
      this.value = value;
    }

    @Override
    Object eval(Frame f) {
      return value;
    }
  }

  static final class Name extends Expr {
    final String name;

    Name(int line, String name) {
      super(line);
      this.name = name;
    }

    @Override
    Object eval(Frame f) {
      return f.lookup(name);
    }
  }

  static final class ListLit extends Expr {
    final Expr[] items;
    final boolean tuple;

    ListLit(int line, List<Expr> items, boolean tuple) {
      super(line);
      this.items = items.toArray(new Expr[0]);
      this.tuple = tuple;
    }

    @Override
    Object eval(Frame f) {
      Object[] out = new Object[items.length];
      for (int i = 0; i < items.length; i++) {
        out[i] = items[i].eval(f);
      }
      return tuple ? new PyTuple(out) : new ArrayList<>(java.util.Arrays.asList(out));
    }
  }

  static final class DictLit extends Expr {
    final Expr[] keys;
    final Expr[] values;

    DictLit(int line, List<Expr> keys, List<Expr> values) {
      super(line);
      this.keys = keys.toArray(new Expr[0]);
      this.values = values.toArray(new Expr[0]);
    }

    @Override
    Object eval(Frame f) {
      Map<Object, Object> m = new LinkedHashMap<>();
      for (int i = 0; i < keys.length; i++) {
        Object k = keys[i].eval(f);
        if (k instanceof List && !(k instanceof PyTuple) || k instanceof Map) {
          throw Errors.type("unhashable type: '" + PyValues.typeName(k) + "'");
        }
        Object existing = PyValues.findKey(m, k);
        m.put(existing == Undefined.MISSING ? k : existing, values[i].eval(f));
      }
      return m;
    }
  }

  static final class GetAttr extends Expr {
    final Expr obj;
    final String attr;

    GetAttr(int line, Expr obj, String attr) {
      super(line);
      this.obj = obj;
      this.attr = attr;
    }

    @Override
    Object eval(Frame f) {
      return PyValues.getattr(obj.eval(f), attr);
    }
  }

  static final class GetItem extends Expr {
    final Expr obj;
    final Expr key;

    GetItem(int line, Expr obj, Expr key) {
      super(line);
      this.obj = obj;
      this.key = key;
    }

    @Override
    Object eval(Frame f) {
      Object o = obj.eval(f);
      return PyValues.getitem(o, key.eval(f));
    }
  }

  static final class SliceExpr extends Expr {
    final Expr start;
    final Expr stop;
    final Expr step;

    SliceExpr(int line, Expr start, Expr stop, Expr step) {
      super(line);
      this.start = start;
      this.stop = stop;
      this.step = step;
    }

    @Override
    Object eval(Frame f) {
      return new PySlice(start == null ? null : start.eval(f), stop == null ? null : stop.eval(f),
          step == null ? null : step.eval(f));
    }
  }

  /** Call arguments shared by calls, filters and tests. */
  static final class CallArgs {
    static final CallArgs NONE = new CallArgs(List.of(), List.of(), List.of(), null, null);

    final Expr[] args;
    final String[] kwNames;
    final Expr[] kwValues;
    final Expr dynArgs;
    final Expr dynKwargs;

    CallArgs(List<Expr> args, List<String> kwNames, List<Expr> kwValues, Expr dynArgs, Expr dynKwargs) {
      this.args = args.toArray(new Expr[0]);
      this.kwNames = kwNames.toArray(new String[0]);
      this.kwValues = kwValues.toArray(new Expr[0]);
      this.dynArgs = dynArgs;
      this.dynKwargs = dynKwargs;
    }

    List<Object> positional(Frame f, Object first) {
      List<Object> out = new ArrayList<>(args.length + 1);
      if (first != Undefined.MISSING) {
        out.add(first);
      }
      for (Expr e : args) {
        out.add(e.eval(f));
      }
      if (dynArgs != null) {
        out.addAll(PyValues.iterate(dynArgs.eval(f)));
      }
      return out;
    }

    Map<String, Object> keywords(Frame f) {
      if (kwNames.length == 0 && dynKwargs == null) {
        return Args.NO_KWARGS;
      }
      Map<String, Object> out = new LinkedHashMap<>();
      for (int i = 0; i < kwNames.length; i++) {
        out.put(kwNames[i], kwValues[i].eval(f));
      }
      if (dynKwargs != null) {
        Object m = dynKwargs.eval(f);
        if (!(m instanceof Map)) {
          throw Errors.type("argument after ** must be a mapping, not " + PyValues.typeName(m));
        }
        for (Map.Entry<?, ?> e : ((Map<?, ?>) m).entrySet()) {
          out.put(PyValues.str(e.getKey()), e.getValue());
        }
      }
      return out;
    }
  }

  static final class Call extends Expr {
    final Expr fn;
    final CallArgs args;

    Call(int line, Expr fn, CallArgs args) {
      super(line);
      this.fn = fn;
      this.args = args;
    }

    @Override
    Object eval(Frame f) {
      Object callee = fn.eval(f);
      return PyValues.call(callee, args.positional(f, Undefined.MISSING), args.keywords(f));
    }
  }

  static final class FilterExpr extends Expr {
    final Expr value;
    final String name;
    final Filters.Filter impl;
    final CallArgs args;

    FilterExpr(int line, Expr value, String name, Filters.Filter impl, CallArgs args) {
      super(line);
      this.value = value;
      this.name = name;
      this.impl = impl;
      this.args = args;
    }

    @Override
    Object eval(Frame f) {
      if (impl == null) {
        throw Errors.runtime("No filter named '" + name + "' found.");
      }
      Object v = value.eval(f);
      return impl.apply(v, new Args(name, args.positional(f, Undefined.MISSING), args.keywords(f)));
    }
  }

  static final class TestExpr extends Expr {
    final Expr value;
    final String name;
    final Tests.Test impl;
    final CallArgs args;
    final boolean negated;

    TestExpr(int line, Expr value, String name, Tests.Test impl, CallArgs args, boolean negated) {
      super(line);
      this.value = value;
      this.name = name;
      this.impl = impl;
      this.args = args;
      this.negated = negated;
    }

    @Override
    Object eval(Frame f) {
      if (impl == null) {
        throw Errors.runtime("No test named '" + name + "' found.");
      }
      Object v = value.eval(f);
      boolean r = impl.test(v, new Args(name, args.positional(f, Undefined.MISSING), args.keywords(f)));
      return negated != r;
    }
  }

  static final class BinOp extends Expr {
    final String op;
    final Expr left;
    final Expr right;

    BinOp(int line, String op, Expr left, Expr right) {
      super(line);
      this.op = op;
      this.left = left;
      this.right = right;
    }

    @Override
    Object eval(Frame f) {
      Object a = left.eval(f);
      Object b = right.eval(f);
      switch (op) {
        case "+": return PyValues.add(a, b);
        case "-": return PyValues.sub(a, b);
        case "*": return PyValues.mul(a, b);
        case "/": return PyValues.truediv(a, b);
        case "//": return PyValues.floordiv(a, b);
        case "%": return PyValues.mod(a, b);
        case "**": return PyValues.pow(a, b);
        default: throw new IllegalStateException(op);
      }
    }
  }

  static final class Concat extends Expr {
    final Expr[] parts;

    Concat(int line, List<Expr> parts) {
      super(line);
      this.parts = parts.toArray(new Expr[0]);
    }

    @Override
    Object eval(Frame f) {
      StringBuilder sb = new StringBuilder();
      for (Expr e : parts) {
        sb.append(PyValues.str(e.eval(f)));
      }
      return sb.toString();
    }
  }

  static final class Compare extends Expr {
    final Expr first;
    final String[] ops;
    final Expr[] rest;

    Compare(int line, Expr first, List<String> ops, List<Expr> rest) {
      super(line);
      this.first = first;
      this.ops = ops.toArray(new String[0]);
      this.rest = rest.toArray(new Expr[0]);
    }

    @Override
    Object eval(Frame f) {
      Object a = first.eval(f);
      for (int i = 0; i < ops.length; i++) {
        Object b = rest[i].eval(f);
        if (!test(ops[i], a, b)) {
          return false;
        }
        a = b;
      }
      return true;
    }

    static boolean test(String op, Object a, Object b) {
      switch (op) {
        case "==": return PyValues.eq(a, b);
        case "!=": return !PyValues.eq(a, b);
        case "<": return PyValues.compare(a, b, op) < 0;
        case "<=": return PyValues.compare(a, b, op) <= 0;
        case ">": return PyValues.compare(a, b, op) > 0;
        case ">=": return PyValues.compare(a, b, op) >= 0;
        case "in": return PyValues.contains(b, a);
        case "notin": return !PyValues.contains(b, a);
        default: throw new IllegalStateException(op);
      }
    }
  }

  static final class And extends Expr {
    final Expr left;
    final Expr right;

    And(int line, Expr left, Expr right) {
      super(line);
      this.left = left;
      this.right = right;
    }

    @Override
    Object eval(Frame f) {
      Object a = left.eval(f);
      return PyValues.truthy(a) ? right.eval(f) : a;
    }
  }

  static final class Or extends Expr {
    final Expr left;
    final Expr right;

    Or(int line, Expr left, Expr right) {
      super(line);
      this.left = left;
      this.right = right;
    }

    @Override
    Object eval(Frame f) {
      Object a = left.eval(f);
      return PyValues.truthy(a) ? a : right.eval(f);
    }
  }

  static final class Not extends Expr {
    final Expr operand;

    Not(int line, Expr operand) {
      super(line);
      this.operand = operand;
    }

    @Override
    Object eval(Frame f) {
      return !PyValues.truthy(operand.eval(f));
    }
  }

  static final class Unary extends Expr {
    final boolean negative;
    final Expr operand;

    Unary(int line, boolean negative, Expr operand) {
      super(line);
      this.negative = negative;
      this.operand = operand;
    }

    @Override
    Object eval(Frame f) {
      Object v = operand.eval(f);
      return negative ? PyValues.neg(v) : PyValues.pos(v);
    }
  }

  static final class CondExpr extends Expr {
    final Expr test;
    final Expr then;
    final Expr otherwise;

    CondExpr(int line, Expr test, Expr then, Expr otherwise) {
      super(line);
      this.test = test;
      this.then = then;
      this.otherwise = otherwise;
    }

    @Override
    Object eval(Frame f) {
      if (PyValues.truthy(test.eval(f))) {
        return then.eval(f);
      }
      if (otherwise == null) {
        return Undefined.hint("the inline if-expression on line " + line
            + " evaluated to false and no else section was defined.");
      }
      return otherwise.eval(f);
    }
  }

  // ====================================================================== assignment targets

  abstract static class Target {
    abstract void assign(Frame f, Object value);
  }

  static final class NameTarget extends Target {
    final String name;

    NameTarget(String name) {
      this.name = name;
    }

    @Override
    void assign(Frame f, Object value) {
      f.set(name, value);
    }
  }

  static final class TupleTarget extends Target {
    final Target[] items;

    TupleTarget(List<Target> items) {
      this.items = items.toArray(new Target[0]);
    }

    @Override
    void assign(Frame f, Object value) {
      List<Object> vals = PyValues.iterate(value);
      if (vals.size() > items.length) {
        throw Errors.value("too many values to unpack (expected " + items.length + ")");
      }
      if (vals.size() < items.length) {
        throw Errors.value("not enough values to unpack (expected " + items.length + ", got " + vals.size() + ")");
      }
      for (int i = 0; i < items.length; i++) {
        items[i].assign(f, vals.get(i));
      }
    }
  }

  static final class NsTarget extends Target {
    final String name;
    final String attr;

    NsTarget(String name, String attr) {
      this.name = name;
      this.attr = attr;
    }

    @Override
    void assign(Frame f, Object value) {
      Object ns = f.lookup(name);
      if (!(ns instanceof Namespace)) {
        throw Errors.runtime("cannot assign attribute on non-namespace object");
      }
      ((Namespace) ns).attrs.put(attr, value);
    }
  }

  // ====================================================================== statements

  abstract static class Stmt {
    final int line;

    Stmt(int line) {
      this.line = line;
    }

    /** Renders into {@code out}; returns NORMAL, or BREAK / CONTINUE to unwind to the enclosing loop. */
    abstract int render(Frame f, StringBuilder out);
  }

  static int renderAll(Stmt[] body, Frame f, StringBuilder out) {
    for (Stmt s : body) {
      int r = s.render(f, out);
      if (r != NORMAL) {
        return r;
      }
    }
    return NORMAL;
  }

  static final class Text extends Stmt {
    final String text;

    Text(int line, String text) {
      super(line);
      this.text = text;
    }

    @Override
    int render(Frame f, StringBuilder out) {
      out.append(text);
      return NORMAL;
    }
  }

  static final class Output extends Stmt {
    final Expr expr;

    Output(int line, Expr expr) {
      super(line);
      this.expr = expr;
    }

    @Override
    int render(Frame f, StringBuilder out) {
      out.append(PyValues.str(expr.eval(f)));
      return NORMAL;
    }
  }

  static final class If extends Stmt {
    final Expr test;
    final Stmt[] body;
    final Stmt[] orelse;

    If(int line, Expr test, List<Stmt> body, List<Stmt> orelse) {
      super(line);
      this.test = test;
      this.body = body.toArray(new Stmt[0]);
      this.orelse = orelse.toArray(new Stmt[0]);
    }

    @Override
    int render(Frame f, StringBuilder out) {
      return renderAll(PyValues.truthy(test.eval(f)) ? body : orelse, f, out);
    }
  }

  static final class For extends Stmt {
    final Target target;
    final Expr iter;
    final Expr filter;
    final Stmt[] body;
    final Stmt[] orelse;

    For(int line, Target target, Expr iter, Expr filter, List<Stmt> body, List<Stmt> orelse) {
      super(line);
      this.target = target;
      this.iter = iter;
      this.filter = filter;
      this.body = body.toArray(new Stmt[0]);
      this.orelse = orelse.toArray(new Stmt[0]);
    }

    @Override
    int render(Frame f, StringBuilder out) {
      List<Object> items = PyValues.iterate(iter.eval(f));
      if (filter != null) {
        List<Object> kept = new ArrayList<>();
        for (Object item : items) {
          Frame scope = f.child();
          target.assign(scope, item);
          if (PyValues.truthy(filter.eval(scope))) {
            kept.add(item);
          }
        }
        items = kept;
      }
      if (items.isEmpty()) {
        return renderAll(orelse, f, out);
      }
      LoopContext loop = new LoopContext(items);
      for (int i = 0; i < items.size(); i++) {
        Frame scope = f.child();
        target.assign(scope, items.get(i));
        loop.index0 = i;
        scope.set("loop", loop);
        if (renderAll(body, scope, out) == BREAK) {
          break;
        }
      }
      return NORMAL;
    }
  }

  static final class LoopControl extends Stmt {
    final int signal;

    LoopControl(int line, int signal) {
      super(line);
      this.signal = signal;
    }

    @Override
    int render(Frame f, StringBuilder out) {
      return signal;
    }
  }

  static final class Assign extends Stmt {
    final Target target;
    final Expr value;

    Assign(int line, Target target, Expr value) {
      super(line);
      this.target = target;
      this.value = value;
    }

    @Override
    int render(Frame f, StringBuilder out) {
      target.assign(f, value.eval(f));
      return NORMAL;
    }
  }

  static final class AssignBlock extends Stmt {
    final Target target;
    final Stmt[] body;
    final FilterExpr filter;

    AssignBlock(int line, Target target, List<Stmt> body, FilterExpr filter) {
      super(line);
      this.target = target;
      this.body = body.toArray(new Stmt[0]);
      this.filter = filter;
    }

    @Override
    int render(Frame f, StringBuilder out) {
      StringBuilder sb = new StringBuilder();
      renderAll(body, f.child(), sb);
      Object v = sb.toString();
      if (filter != null) {
        v = FilterBlock.applyChain(filter, f, v);
      }
      target.assign(f, v);
      return NORMAL;
    }
  }

  /** {@code {% filter upper %}...{% endfilter %}}; the chain's innermost value is a placeholder for the body. */
  static final class FilterBlock extends Stmt {
    final FilterExpr filter;
    final Stmt[] body;

    FilterBlock(int line, FilterExpr filter, List<Stmt> body) {
      super(line);
      this.filter = filter;
      this.body = body.toArray(new Stmt[0]);
    }

    @Override
    int render(Frame f, StringBuilder out) {
      StringBuilder sb = new StringBuilder();
      renderAll(body, f, sb);
      out.append(PyValues.str(applyChain(filter, f, sb.toString())));
      return NORMAL;
    }

    static Object applyChain(FilterExpr fe, Frame f, Object body) {
      Object inner = fe.value instanceof FilterExpr ? applyChain((FilterExpr) fe.value, f, body) : body;
      if (fe.impl == null) {
        throw Errors.runtime("No filter named '" + fe.name + "' found.");
      }
      return fe.impl.apply(inner, new Args(fe.name, fe.args.positional(f, Undefined.MISSING), fe.args.keywords(f)));
    }
  }

  static final class With extends Stmt {
    final Target[] targets;
    final Expr[] values;
    final Stmt[] body;

    With(int line, List<Target> targets, List<Expr> values, List<Stmt> body) {
      super(line);
      this.targets = targets.toArray(new Target[0]);
      this.values = values.toArray(new Expr[0]);
      this.body = body.toArray(new Stmt[0]);
    }

    @Override
    int render(Frame f, StringBuilder out) {
      Frame scope = f.child();
      for (int i = 0; i < targets.length; i++) {
        targets[i].assign(scope, values[i].eval(f));
      }
      return renderAll(body, scope, out);
    }
  }

  static final class MacroDef extends Stmt {
    /** null for a call block's body (jinja names it "anonymous"). */
    final String name;
    final String[] params;
    final Expr[] defaults;
    final Stmt[] body;
    /** The body reads caller / kwargs / varargs (compiler.py macro_body), so the macro accepts them. */
    final boolean accessesCaller;
    final boolean catchKwargs;
    final boolean catchVarargs;

    MacroDef(int line, String name, List<String> params, List<Expr> defaults, List<Stmt> body, boolean accessesCaller,
        boolean catchKwargs, boolean catchVarargs) {
      super(line);
      this.name = name;
      this.params = params.toArray(new String[0]);
      this.defaults = defaults.toArray(new Expr[0]);
      this.body = body.toArray(new Stmt[0]);
      this.accessesCaller = accessesCaller;
      this.catchKwargs = catchKwargs;
      this.catchVarargs = catchVarargs;
    }

    @Override
    int render(Frame f, StringBuilder out) {
      f.set(name, new Macro(this, f));
      return NORMAL;
    }

    String describe() {
      return name == null ? "macro None" : "macro '" + name + "'";
    }
  }

  /**
   * A macro bound to the scope it was defined in; reads of outer variables happen at call time, as in Jinja.
   * Argument binding follows jinja2 runtime.py Macro.__call__: positional first, then keywords by name, then
   * defaults; the caller (a call block's body) comes in as the keyword {@code caller}; extra keyword or positional
   * arguments are an error unless the body reads {@code kwargs} / {@code varargs}.
   */
  static final class Macro implements PyCallable {
    final MacroDef def;
    final Frame closure;

    Macro(MacroDef def, Frame closure) {
      this.def = def;
      this.closure = closure;
    }

    @Override
    public Object call(List<Object> args, Map<String, Object> kwargs) {
      Frame scope = closure.child();
      String[] params = def.params;
      Map<String, Object> extra = new LinkedHashMap<>(kwargs);
      int consumed = Math.min(args.size(), params.length);
      boolean foundCaller = false;
      Object[] values = new Object[params.length];
      for (int i = 0; i < params.length; i++) {
        if (i < consumed) {
          values[i] = args.get(i);
          continue;
        }
        // Macro.__call__ pops by name only for parameters the positional arguments did not fill, so a keyword
        // that repeats a positional one is left over and reported as an unexpected keyword argument below
        values[i] = extra.containsKey(params[i]) ? extra.remove(params[i]) : Undefined.MISSING;
        if (params[i].equals("caller")) {
          foundCaller = true;
        }
      }
      if (consumed == params.length) {
        foundCaller = Arrays.asList(params).contains("caller");
      }
      for (int i = 0; i < params.length; i++) {
        Object v = values[i];
        if (v == Undefined.MISSING) {
          Expr d = def.defaults[i];
          v = d != null ? d.eval(scope) : Undefined.hint("parameter '" + params[i] + "' was not provided");
        }
        scope.set(params[i], v);
      }
      if (def.accessesCaller && !foundCaller) {
        Object caller = extra.remove("caller");
        scope.set("caller", caller == null ? Undefined.hint("No caller defined") : caller);
      }
      if (def.catchKwargs) {
        scope.set("kwargs", new LinkedHashMap<Object, Object>(extra));
      } else if (!extra.isEmpty()) {
        if (extra.containsKey("caller")) {
          throw Errors.type(def.describe() + " was invoked with two values for the special caller argument. This is"
              + " most likely a bug.");
        }
        throw Errors.type(def.describe() + " takes no keyword argument '" + extra.keySet().iterator().next() + "'");
      }
      if (def.catchVarargs) {
        scope.set("varargs", PyTuple.copyOf(args.size() > params.length ? args.subList(params.length, args.size())
            : List.of()));
      } else if (args.size() > params.length) {
        throw Errors.type(def.describe() + " takes not more than " + params.length + " argument(s)");
      }
      StringBuilder sb = new StringBuilder();
      renderAll(def.body, scope, sb);
      return sb.toString();
    }

    @Override
    public String toString() {
      return def.name == null ? "<Macro anonymous>" : "<Macro '" + def.name + "'>";
    }
  }

  /** {@code {% call(params) m(args) %}body{% endcall %}}: calls m with {@code caller=} the body as a macro. */
  static final class CallBlock extends Stmt {
    final Call call;
    final MacroDef caller;

    CallBlock(int line, Call call, MacroDef caller) {
      super(line);
      this.call = call;
      this.caller = caller;
    }

    @Override
    int render(Frame f, StringBuilder out) {
      Object callee = call.fn.eval(f);
      Map<String, Object> kw = new LinkedHashMap<>(call.args.keywords(f));
      // compiler.py visit_Call(forward_caller=True) passes caller=caller after the written keyword arguments
      kw.put("caller", new Macro(caller, f));
      out.append(PyValues.str(PyValues.call(callee, call.args.positional(f, Undefined.MISSING), kw)));
      return NORMAL;
    }
  }

  /** transformers' {@code {% generation %}} block: a call block whose macro returns {@code caller()} unchanged. */
  static final class Generation extends Stmt {
    final MacroDef body;

    Generation(int line, MacroDef body) {
      super(line);
      this.body = body;
    }

    @Override
    int render(Frame f, StringBuilder out) {
      out.append(new Macro(body, f).call(List.of(), Args.NO_KWARGS));
      return NORMAL;
    }
  }
}
