package dev.jgen.engine;

/** A request the engine could not complete. The row becomes an error row with this message; the job goes on. */
public class EngineException extends RuntimeException {
  public EngineException(String message) {
    super(message);
  }

  public EngineException(String message, Throwable cause) {
    super(message, cause);
  }
}
