package dev.jgen.prompt;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The nine SteerLM attributes KARAKURI's templates read from user messages ({@code message['verbosity']|string or '4'}).
 * Values are integers 0-4; a missing key means the template's default, so null values are left out rather than passed
 * (a None would render as the text "None").
 */
public final class SteerLmAttributes {
  public static final List<String> NAMES = List.of(
      "helpfulness", "correctness", "coherence", "complexity", "verbosity", "quality", "toxicity", "humor", "creativity");

  private SteerLmAttributes() {}

  /** Checks raw column values and returns the non-null ones as ints, in canonical order. */
  public static Map<String, Integer> validate(Map<String, ?> raw) {
    Map<String, Integer> out = new LinkedHashMap<>();
    for (String name : NAMES) {
      Object v = raw.get(name);
      if (v == null) {
        continue;
      }
      out.put(name, toLevel(name, v));
    }
    return out;
  }

  static int toLevel(String name, Object v) {
    if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
      long l = n.longValue();
      if (l >= 0 && l <= 4) {
        return (int) l;
      }
    }
    throw new InvalidRowException("attribute " + name + ": " + (v instanceof String ? "'" + v + "'" : v)
        + " is not an integer 0-4");
  }
}
