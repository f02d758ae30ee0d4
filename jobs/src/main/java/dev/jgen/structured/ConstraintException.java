package dev.jgen.structured;

/**
 * An output constraint that cannot be used. The message names where it came from: the job key
 * ({@code generation.json_schema}, {@code generation.grammar}, {@code generation.choice}) or the row's column
 * ({@code json_schema}, {@code choice}). The job's settings report it as a config error, a run as the row's error, so
 * this package stands alone (it depends on no other jgen package).
 */
public final class ConstraintException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ConstraintException(String message) {
    this(message, null);
  }

  public ConstraintException(String message, Throwable cause) {
    // No stack trace: the message is the whole story, and a row's error is raised once per bad row.
    super(message, cause, false, false);
  }
}
