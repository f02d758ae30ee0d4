package dev.jgen.prompt.jinja;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;

/** Python tuple: an immutable list that renders as {@code (a, b)} and never equals a list. */
final class PyTuple extends AbstractList<Object> {
  static final PyTuple EMPTY = new PyTuple(new Object[0]);

  private final Object[] items;

  PyTuple(Object[] items) {
    this.items = items;
  }

  static PyTuple of(Object... items) {
    return new PyTuple(items);
  }

  static PyTuple copyOf(List<?> list) {
    return new PyTuple(list.toArray());
  }

  @Override
  public Object get(int index) {
    return items[index];
  }

  @Override
  public int size() {
    return items.length;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PyTuple && Arrays.equals(items, ((PyTuple) o).items);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(items);
  }
}
