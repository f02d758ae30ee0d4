package dev.jgen.engine;

/**
 * The engine is gone: its process exited or was killed, or it broke the protocol. Every request in flight fails with
 * it at once, the engine leaves the {@link EngineRegistry}, and the run stops (a run error; the same command resumes).
 */
public class EngineLostException extends EngineException {
  public EngineLostException(String message) {
    super(message, null, false);
  }

  public EngineLostException(String message, Throwable cause) {
    super(message, cause, false);
  }
}
