package dev.jgen.engine;

/**
 * A request the engine could not complete, and whose fault that is:
 * <ul>
 *   <li>a <b>row error</b> ({@link #rowError(String)}): what the row itself holds (its prompt, token ids, schema,
 *       grammar, sampling parameters) made the engine refuse it; the row becomes an error row and the run goes on;
 *   <li>a <b>run error</b> (the constructors): the engine's fault (a server 5xx after its retries, a timeout, an
 *       unreadable answer); it counts towards the run's failure rate ({@code job.max_failure_rate});
 *   <li>{@link EngineLostException}: the engine itself is gone (its process died, it broke the protocol); a run error
 *       that stops the run at once.
 * </ul>
 * An engine that cannot tell (an unknown failure) throws a run error: a bad row wrongly blamed on the engine stops a
 * run that could resume, a broken engine wrongly blamed on rows would fill the table with error rows.
 */
public class EngineException extends RuntimeException {
  private final boolean rowError;

  /** A run error. */
  public EngineException(String message) {
    this(message, null, false);
  }

  /** A run error. */
  public EngineException(String message, Throwable cause) {
    this(message, cause, false);
  }

  protected EngineException(String message, Throwable cause, boolean rowError) {
    super(message, cause);
    this.rowError = rowError;
  }

  /** The row's own fault: the engine refused what the request holds. */
  public static EngineException rowError(String message) {
    return new EngineException(message, null, true);
  }

  /** Whether the row caused it (a row error) rather than the engine (a run error). */
  public boolean isRowError() {
    return rowError;
  }
}
