package dev.jgen.prompt.jinja;


/** Factories for the Python exception kinds Jinja2 templates can raise. */
final class Errors {
  private Errors() {}

  static TemplateException syntax(String msg, int line) {
    return new TemplateException("TemplateSyntaxError", msg + " (line " + line + ")", line, null);
  }

  /** Jinja's TemplateAssertionError (a TemplateSyntaxError subclass): unknown filters and tests. */
  static TemplateException assertion(String msg, int line) {
    return new TemplateException("TemplateAssertionError", msg + " (line " + line + ")", line, null);
  }

  static TemplateException type(String msg) {
    return new TemplateException("TypeError", msg);
  }

  static TemplateException value(String msg) {
    return new TemplateException("ValueError", msg);
  }

  static TemplateException runtime(String msg) {
    return new TemplateException("TemplateRuntimeError", msg);
  }

  static TemplateException zeroDiv(String msg) {
    return new TemplateException("ZeroDivisionError", msg);
  }

  static TemplateException overflow(String msg) {
    return new TemplateException("OverflowError", msg);
  }
}
