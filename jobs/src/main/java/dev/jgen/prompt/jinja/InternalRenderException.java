package dev.jgen.prompt.jinja;

/**
 * A bug in jgen's template interpreter (a Java exception such as a NullPointerException or ClassCastException thrown
 * while rendering), as opposed to a {@link TemplateException} about the row's content. It is deliberately not an
 * {@code InvalidRowException}: the input is not to blame, so a run counts it as a run error and logs its stack trace
 * (the cause) instead of writing it into the row as if the row were bad.
 */
public final class InternalRenderException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public InternalRenderException(String where, Throwable cause) {
    super("internal error in jgen's template interpreter while " + where + " (a jgen bug, not the row's fault): "
        + cause, cause);
  }
}
