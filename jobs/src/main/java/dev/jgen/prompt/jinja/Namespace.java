package dev.jgen.prompt.jinja;

import java.util.LinkedHashMap;
import java.util.Map;

/** Jinja2's {@code namespace()}: the one object a template may mutate, via {@code set ns.attr = value}. */
final class Namespace implements PyValues.PyObject {
  final Map<String, Object> attrs = new LinkedHashMap<>();

  @Override
  public Object getAttr(String name) {
    return attrs.getOrDefault(name, Undefined.MISSING);
  }

  @Override
  public String typeName() {
    return "Namespace";
  }

  @Override
  public String objectTypeRepr() {
    return "jinja2.utils.Namespace object";
  }

  @Override
  public String toString() {
    return "<Namespace " + PyValues.repr(attrs) + ">";
  }
}
