package dev.jgen.delta;

/**
 * A refusal that protects what a table holds: another job holds the run or claimed it first, the run was made with
 * other settings, the output path holds something that is not a jgen table of this kind, or an inspecting command asked
 * for a run the table does not hold. The command stops before it writes anything (exit 1); its message says what to do.
 * Anything else that goes wrong is a failure, not a refusal, and is reported with its cause.
 */
public final class RefusedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public RefusedException(String message) {
    super(message);
  }
}
