package dev.jgen.prompt.jinja;


/**
 * Jinja2's default {@code Undefined}: renders as '', is falsy, iterates as empty and has length 0, but any attribute
 * access, item access, call or arithmetic on it raises {@code UndefinedError} with Jinja's message.
 */
final class Undefined {
  static final Object MISSING = new Object() {
    @Override
    public String toString() {
      return "missing";
    }
  };

  private final String hint;
  private final Object obj;
  private final Object name;
  private final String kind;

  private Undefined(String hint, Object obj, Object name, String kind) {
    this.hint = hint;
    this.obj = obj;
    this.name = name;
    this.kind = kind;
  }

  /** A variable that is not defined: "'name' is undefined". */
  static Undefined variable(String name) {
    return new Undefined(null, MISSING, name, "UndefinedError");
  }

  /** A missing attribute or item of {@code obj}. */
  static Undefined member(Object obj, Object name) {
    return new Undefined(null, obj, name, "UndefinedError");
  }

  static Undefined hint(String hint) {
    return new Undefined(hint, MISSING, null, "UndefinedError");
  }

  /** What the immutable sandbox returns for list.append, dict.update, dunders...: fails only when used. */
  static Undefined unsafe(Object obj, String attr) {
    return new Undefined("access to attribute '" + attr + "' of '" + PyValues.typeName(obj) + "' object is unsafe.",
        obj, attr, "SecurityError");
  }

  String message() {
    if (hint != null) {
      return hint;
    }
    if (obj == MISSING) {
      return PyStr.repr(String.valueOf(name)) + " is undefined";
    }
    if (!(name instanceof String)) {
      return PyValues.objectTypeRepr(obj) + " has no element " + PyValues.repr(name);
    }
    return PyStr.repr(PyValues.objectTypeRepr(obj)) + " has no attribute " + PyStr.repr((String) name);
  }

  TemplateException fail() {
    return new TemplateException(kind, message());
  }

  @Override
  public String toString() {
    return "";
  }
}
