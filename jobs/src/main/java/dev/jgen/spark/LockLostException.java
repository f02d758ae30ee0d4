package dev.jgen.spark;

/** The run's lock was lost (not renewable, or taken over): the job stopped before another could write the same rows. */
public final class LockLostException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  LockLostException(String message) {
    super(message);
  }
}
