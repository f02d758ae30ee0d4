package dev.jgen.generate;

/**
 * A run error: a fault of the engine, the tokenizer or jgen itself, not of a row's content. Unlike a row error it stops
 * the run (what is committed stays; the same command resumes once the cause is fixed). Thrown in a task when the
 * {@link RunHealth} of the executor trips, and on the driver with the cause found in the failed Spark job.
 */
public final class RunFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  /** Words every message starts with, so the driver can find the cause inside Spark's job failure text. */
  public static final String MARK = "run error: ";

  public RunFailedException(String message) {
    super(message.startsWith(MARK) ? message : MARK + message);
  }

  public RunFailedException(String message, Throwable cause) {
    super(message.startsWith(MARK) ? message : MARK + message, cause);
  }

  /** The run error inside a failed Spark job, or null when the failure is something else. */
  public static RunFailedException findIn(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof RunFailedException r) {
        return r;
      }
      String m = c.getMessage();
      int at = m == null ? -1 : m.indexOf(MARK);
      if (at >= 0) {
        // Spark reports a task's exception as text ("... most recent failure: ... RunFailedException: run error: ...").
        String tail = m.substring(at);
        int end = tail.indexOf('\n');
        return new RunFailedException(end < 0 ? tail : tail.substring(0, end), t);
      }
    }
    return null;
  }
}
