package dev.jgen.prompt;

/** A row that cannot be generated. It becomes an output row with {@code status=error} and this message. */
public final class InvalidRowException extends RuntimeException {
  public InvalidRowException(String message) {
    super(message, null, false, false);
  }
}
