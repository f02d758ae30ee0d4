package dev.jgen.prompt.jinja;

import java.util.List;
import java.util.Map;

/**
 * A compiled Jinja2 template, configured as transformers configures chat templates: an immutable sandbox with
 * trim_blocks, lstrip_blocks and loop controls. Immutable and thread-safe; compile once, render many times.
 */
public final class Template {
  private final Nodes.Stmt[] body;

  private Template(List<Nodes.Stmt> body) {
    this.body = body.toArray(new Nodes.Stmt[0]);
  }

  /** Parses {@code source}; a syntax error is a {@link TemplateException} of kind TemplateSyntaxError naming the line. */
  public static Template compile(String source) {
    try {
      return new Template(Parser.parse(source));
    } catch (TemplateException e) {
      throw e;
    } catch (RuntimeException | StackOverflowError e) {
      throw new TemplateException("TemplateSyntaxError", "cannot parse template: " + e, 0, e);
    }
  }

  /**
   * Renders with {@code context} as the template's variables (it is only read). Values are Python-like: Map (dict,
   * in insertion order), List (list), String, Integer/Long (int), Double/Float (float), Boolean, null (None). Either
   * the whole output is returned or a {@link TemplateException} is thrown; there is no partial output. A Java
   * exception of the interpreter itself (a bug) comes out as {@link InternalRenderException} with it as the cause.
   */
  public String render(Map<String, Object> context) {
    StringBuilder out = new StringBuilder(256);
    try {
      Nodes.renderAll(body, Frame.root(context), out);
    } catch (TemplateException e) {
      throw e;
    } catch (StackOverflowError e) {
      throw new TemplateException("RecursionError", "maximum recursion depth exceeded", 0, e);
    } catch (RuntimeException e) {
      // Every Python-level error is thrown as a TemplateException where it happens; anything else is a bug of this
      // interpreter and must not be reported as the row's TypeError (issue 12: the interpreter never blames the input)
      throw new InternalRenderException("rendering", e);
    }
    return out.toString();
  }
}
