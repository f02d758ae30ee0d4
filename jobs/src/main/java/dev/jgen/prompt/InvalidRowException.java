package dev.jgen.prompt;

/** A row that cannot be generated. It becomes an output row with {@code status=error} and this message. */
public final class InvalidRowException extends RuntimeException {
  public InvalidRowException(String message) {
    super(message, null, false, false);
  }

  /** How a raw input value is named in an error message ("a string", "a number (7)", "an array", ...). */
  public static String describe(Object v) {
    if (v == null) {
      return "null";
    }
    if (v instanceof String) {
      return "a string";
    }
    if (v instanceof Boolean) {
      return "a boolean";
    }
    if (v instanceof Number) {
      return "a number (" + v + ")";
    }
    if (v instanceof java.util.List) {
      return "an array";
    }
    if (v instanceof java.util.Map) {
      return "an object";
    }
    return v.getClass().getSimpleName();
  }
}
