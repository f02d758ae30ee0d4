package dev.jgen.prompt.jinja;

import java.util.List;

/** The {@code loop} variable of a for-loop. One per loop per render, advanced in place by the loop. */
final class LoopContext implements PyValues.PyObject {
  private final List<Object> items;
  int index0;
  private Object lastChanged = Undefined.MISSING;

  LoopContext(List<Object> items) {
    this.items = items;
  }

  @Override
  public Object getAttr(String name) {
    int n = items.size();
    switch (name) {
      case "index": return (long) index0 + 1;
      case "index0": return (long) index0;
      case "revindex": return (long) (n - index0);
      case "revindex0": return (long) (n - index0 - 1);
      case "first": return index0 == 0;
      case "last": return index0 == n - 1;
      case "length": return (long) n;
      case "depth": return 1L;
      case "depth0": return 0L;
      case "previtem": return index0 > 0 ? items.get(index0 - 1) : Undefined.hint("there is no previous item");
      case "nextitem": return index0 + 1 < n ? items.get(index0 + 1) : Undefined.hint("there is no next item");
      case "cycle":
        return (PyCallable) (args, kwargs) -> {
          if (args.isEmpty()) {
            throw Errors.type("no items for cycling given");
          }
          return args.get(index0 % args.size());
        };
      case "changed":
        return (PyCallable) (args, kwargs) -> {
          Object v = PyTuple.copyOf(args);
          if (lastChanged == Undefined.MISSING || !PyValues.eq(v, lastChanged)) {
            lastChanged = v;
            return true;
          }
          return false;
        };
      default: return Undefined.MISSING;
    }
  }

  @Override
  public String typeName() {
    return "LoopContext";
  }

  @Override
  public String objectTypeRepr() {
    return "jinja2.runtime.LoopContext object";
  }

  @Override
  public String toString() {
    return "<LoopContext " + (index0 + 1) + "/" + items.size() + ">";
  }
}
