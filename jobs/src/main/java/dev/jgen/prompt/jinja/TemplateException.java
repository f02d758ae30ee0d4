package dev.jgen.prompt.jinja;

/**
 * The one failure type of template compilation and rendering.
 *
 * <p>{@link #getMessage()} is the message Jinja2 would give (for {@code raise_exception(msg)} exactly {@code msg}), and
 * {@link #kind()} the name of the Python exception class Jinja2 / Python would raise ({@code TemplateError},
 * {@code TemplateSyntaxError}, {@code UndefinedError}, {@code SecurityError}, {@code TypeError}, ...), so that
 * {@code kind() + ": " + getMessage()} reads like transformers' error text.
 */
public class TemplateException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String kind;
  private final int line;

  public TemplateException(String kind, String message) {
    this(kind, message, 0, null);
  }

  public TemplateException(String kind, String message, int line, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.line = line;
  }

  /** Python-style exception class name, e.g. {@code TemplateError} for {@code raise_exception}. */
  public String kind() {
    return kind;
  }

  /** Template source line the error refers to (1-based), or 0 when not known. */
  public int line() {
    return line;
  }

  /** {@code kind + ": " + message}, the form transformers users see. */
  public String pythonStyle() {
    return kind + ": " + getMessage();
  }
}
