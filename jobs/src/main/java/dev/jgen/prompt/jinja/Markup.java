package dev.jgen.prompt.jinja;

/**
 * markupsafe's {@code Markup} (markupsafe 3.0 {@code __init__.py}): a str subclass marking text as HTML-safe. Only
 * values that a template marks safe or escapes ({@code |safe}, {@code |e}, {@code |forceescape}) are Markup.
 *
 * <p>transformers' environment has autoescape off, so printing a value never escapes it; only operations with a Markup
 * operand do: {@code Markup + str} and {@code str + Markup} escape the plain side ({@code __add__}/{@code __radd__}),
 * {@code Markup % x} and {@code Markup.format(x)} escape the arguments, {@code Markup.join} escapes the items. Most
 * str methods of a Markup return a Markup (see {@link PyMethods}); everything else treats it as the str it is.
 */
final class Markup {
  final String s;

  Markup(String s) {
    this.s = s;
  }

  /** {@code Markup(value)}: a Markup as is ({@code __html__}), anything else str()-ed and marked safe unescaped. */
  static Markup of(Object v) {
    return v instanceof Markup ? (Markup) v : new Markup(PyValues.str(v));
  }

  /** {@code markupsafe.escape(value)}: a Markup unchanged ({@code __html__}), anything else str()-ed and escaped. */
  static Markup escape(Object v) {
    return v instanceof Markup ? (Markup) v : new Markup(escapeText(PyValues.str(v)));
  }

  /** markupsafe's {@code _escape_inner}: {@code & > < ' "} as {@code &amp; &gt; &lt; &#39; &#34;}. */
  static String escapeText(String str) {
    StringBuilder sb = null;
    for (int i = 0; i < str.length(); i++) {
      char c = str.charAt(i);
      String rep;
      switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&#34;"; break;
        case '\'': rep = "&#39;"; break;
        default: rep = null;
      }
      if (rep != null && sb == null) {
        sb = new StringBuilder(str.length() + 16).append(str, 0, i);
      }
      if (sb != null) {
        if (rep != null) {
          sb.append(rep);
        } else {
          sb.append(c);
        }
      }
    }
    return sb == null ? str : sb.toString();
  }

  /** The str value of a str or Markup; other values as they are. */
  static Object plain(Object v) {
    return v instanceof Markup ? ((Markup) v).s : v;
  }

  /** str or Markup (Python's {@code isinstance(v, str)}). */
  static boolean isStr(Object v) {
    return v instanceof String || v instanceof Markup;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Markup && ((Markup) o).s.equals(s);
  }

  @Override
  public int hashCode() {
    return s.hashCode();
  }

  @Override
  public String toString() {
    return s;
  }
}
