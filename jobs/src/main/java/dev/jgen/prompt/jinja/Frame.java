package dev.jgen.prompt.jinja;

import java.util.HashMap;
import java.util.Map;

/**
 * A variable scope of one render. Jinja gives every for-loop iteration, macro call and with-block its own scope, so
 * a {@code set} there never leaks out (why templates need namespace()); an if-block shares its enclosing scope.
 * Reads fall through to the enclosing scopes, then the render context, then the globals.
 */
final class Frame {
  private final Frame parent;
  private final Map<String, Object> context;
  private HashMap<String, Object> vars;

  private Frame(Frame parent, Map<String, Object> context) {
    this.parent = parent;
    this.context = context;
  }

  static Frame root(Map<String, Object> context) {
    return new Frame(null, context);
  }

  Frame child() {
    return new Frame(this, null);
  }

  Object lookup(String name) {
    for (Frame f = this; f != null; f = f.parent) {
      if (f.vars != null) {
        Object v = f.vars.getOrDefault(name, Undefined.MISSING);
        if (v != Undefined.MISSING) {
          return v;
        }
      }
      if (f.context != null) {
        Object v = f.context.getOrDefault(name, Undefined.MISSING);
        if (v != Undefined.MISSING) {
          return v;
        }
      }
    }
    Object g = Globals.GLOBALS.get(name);
    return g != null ? g : Undefined.variable(name);
  }

  void set(String name, Object value) {
    if (vars == null) {
      vars = new HashMap<>();
    }
    vars.put(name, value);
  }
}
