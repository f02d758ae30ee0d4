package dev.jgen.config;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * One documented configuration key: its type, default and the check of its value. The whole set lives in
 * {@link ConfigKeys}; a key that is not there is an error, so a typo never silently falls back to a default.
 */
public record ConfigKey(String name, Type type, Object defaultValue, String description, Function<Object, String> check) {

  // JSON: a mapping or a string, kept as given (structured output, issue 13: generation.json_schema inline or @file).
  public enum Type { STRING, INT, LONG, DOUBLE, BOOLEAN, STRING_LIST, MAP, JSON }

  /** Parses a raw value (from YAML or from {@code --set}) into this key's type, or throws a message naming the key. */
  public Object parse(Object raw) {
    if (raw == null) {
      return null;
    }
    try {
      Object value = switch (type) {
        case STRING -> raw instanceof Map || raw instanceof List ? fail(raw) : raw.toString();
        case INT -> raw instanceof Number n && isIntegral(n) ? Math.toIntExact(n.longValue()) : Integer.parseInt(raw.toString().trim());
        case LONG -> raw instanceof Number n && isIntegral(n) ? n.longValue() : Long.parseLong(raw.toString().trim());
        case DOUBLE -> raw instanceof Number n ? n.doubleValue() : Double.parseDouble(raw.toString().trim());
        case BOOLEAN -> parseBoolean(raw);
        case STRING_LIST -> parseList(raw);
        case MAP -> raw instanceof Map<?, ?> m ? m : fail(raw);
        case JSON -> raw instanceof Map<?, ?> || raw instanceof String ? raw : fail(raw);
      };
      String problem = check == null ? null : check.apply(value);
      if (problem != null) {
        throw new ConfigException(name + ": " + problem + " (got " + render(raw) + ")");
      }
      return value;
    } catch (NumberFormatException | ArithmeticException e) {
      throw new ConfigException(name + ": expected " + typeWord() + " (got " + render(raw) + ")");
    }
  }

  private Object fail(Object raw) {
    throw new ConfigException(name + ": expected " + typeWord() + " (got " + render(raw) + ")");
  }

  private static boolean isIntegral(Number n) {
    return n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte
        || (n.doubleValue() == Math.rint(n.doubleValue()) && !Double.isInfinite(n.doubleValue()));
  }

  private Object parseBoolean(Object raw) {
    if (raw instanceof Boolean b) {
      return b;
    }
    String s = raw.toString().trim().toLowerCase(Locale.ROOT);
    if (s.equals("true") || s.equals("yes") || s.equals("1")) {
      return true;
    }
    if (s.equals("false") || s.equals("no") || s.equals("0")) {
      return false;
    }
    return fail(raw);
  }

  private List<String> parseList(Object raw) {
    if (raw instanceof List<?> list) {
      return list.stream().map(String::valueOf).toList();
    }
    String s = raw.toString();
    if (s.isEmpty()) {
      return List.of();
    }
    // --set generation.stop=a,b splits on commas; YAML lists keep commas inside items.
    return List.of(s.split(","));
  }

  private String typeWord() {
    return switch (type) {
      case STRING -> "a string";
      case INT, LONG -> "an integer";
      case DOUBLE -> "a number";
      case BOOLEAN -> "true or false";
      case STRING_LIST -> "a list of strings";
      case MAP -> "a mapping";
      case JSON -> "a mapping or a string";
    };
  }

  static String render(Object raw) {
    return raw instanceof String s ? "'" + s + "'" : String.valueOf(raw);
  }
}
