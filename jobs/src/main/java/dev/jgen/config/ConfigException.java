package dev.jgen.config;

/**
 * A configuration error. Raised before Spark starts, and always names the key (and the allowed values), so a
 * scheduler's log line is enough to fix the job.
 */
public final class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
