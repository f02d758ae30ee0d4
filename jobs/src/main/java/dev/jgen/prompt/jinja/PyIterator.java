package dev.jgen.prompt.jinja;

import java.util.ArrayList;
import java.util.List;

/**
 * A Python iterator: what jinja2's generator filters return (select, reject, selectattr, rejectattr, map, items,
 * unique, batch; reverse gives a list_reverseiterator). Unlike a list it is always true in a test, has no len(), no
 * items by index, and can be consumed once: {@code {% if x|select %}} is true even when nothing is selected, and
 * {@code x|select|length} is a TypeError, as in jinja2 (filters.py select_or_reject, sync_do_map, do_items ...).
 * The items are computed eagerly (the template cannot observe the difference, short of an unused failing map).
 */
final class PyIterator implements PyValues.PyObject {
  private final List<Object> items;
  private final String typeName;
  private final String function;
  private int pos;

  private PyIterator(List<Object> items, String typeName, String function) {
    this.items = items;
    this.typeName = typeName;
    this.function = function;
  }

  /** A generator object made by the jinja2 function {@code function} (its name shows in str()). */
  static PyIterator generator(List<Object> items, String function) {
    return new PyIterator(items, "generator", function);
  }

  static PyIterator of(List<Object> items, String typeName) {
    return new PyIterator(items, typeName, null);
  }

  /** Python's {@code list(it)}: the remaining items; the iterator is then exhausted. */
  List<Object> drain() {
    List<Object> rest = new ArrayList<>(items.subList(pos, items.size()));
    pos = items.size();
    return rest;
  }

  /** Python's {@code next(it)}, or MISSING when exhausted. */
  Object next() {
    return pos < items.size() ? items.get(pos++) : Undefined.MISSING;
  }

  @Override
  public Object getAttr(String name) {
    return Undefined.MISSING;
  }

  @Override
  public String typeName() {
    return typeName;
  }

  @Override
  public String objectTypeRepr() {
    return typeName + " object";
  }

  @Override
  public String toString() {
    // CPython prints the object's address here; it differs run to run, so no fixed text can match it
    return function != null ? "<generator object " + function + " at 0x0>" : "<" + typeName + " object at 0x0>";
  }
}
