package dev.jgen.prompt.jinja;

import java.util.ArrayList;
import java.util.List;

/** A subscript {@code [start:stop:step]}; null parts are Python's None. */
final class PySlice {
  final Object start;
  final Object stop;
  final Object step;

  PySlice(Object start, Object stop, Object step) {
    this.start = start;
    this.stop = stop;
    this.step = step;
  }

  /** The code point / element indices the slice selects from a sequence of {@code len} items (slice.indices). */
  int[] indices(int len) {
    long st = step == null ? 1 : PyValues.toIndex(step);
    if (st == 0) {
      throw Errors.value("slice step cannot be zero");
    }
    long lo;
    long hi;
    if (st > 0) {
      lo = bound(start, len, 0, 0, len);
      hi = bound(stop, len, len, 0, len);
    } else {
      lo = bound(start, len, len - 1, -1, len - 1);
      hi = bound(stop, len, -1, -1, len - 1);
    }
    List<Integer> idx = new ArrayList<>();
    if (st > 0) {
      for (long i = lo; i < hi; i += st) {
        idx.add((int) i);
      }
    } else {
      for (long i = lo; i > hi; i += st) {
        idx.add((int) i);
      }
    }
    int[] out = new int[idx.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = idx.get(i);
    }
    return out;
  }

  boolean simple() {
    return step == null || PyValues.toIndex(step) == 1;
  }

  private static long bound(Object v, int len, long dflt, long min, long max) {
    if (v == null) {
      return dflt;
    }
    long i = PyValues.toIndex(v);
    if (i < 0) {
      i += len;
      if (i < min) {
        i = min;
      }
    } else if (i > max) {
      i = max;
    }
    return i;
  }
}
