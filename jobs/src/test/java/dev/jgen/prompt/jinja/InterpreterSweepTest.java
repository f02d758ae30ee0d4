package dev.jgen.prompt.jinja;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Every built-in filter and test, applied to values of every Python type with zero, one and two arguments of every
 * type: each must render or fail with a Python-style {@link TemplateException}, never with a Java exception (which
 * {@link Template#render} reports as {@link InternalRenderException}, an interpreter bug).
 */
class InterpreterSweepTest {
  private static final String[] VALUES = {"none", "0", "-3", "2.5", "true", "'ab'", "''", "[1, 'a']", "[]",
      "{'a': 1}", "(1, 2)", "nosuch", "ns", "lst|select", "range", "loop_free", "'<a>'|safe"};
  private static final String[] ARGS = {"none", "1", "-1", "1.5", "'a'", "'x,y'", "[1]", "{'k': 1}", "true", "nosuch", "'<'|safe"};

  @Test
  void noJavaExceptionEscapesAnyFilterOrTest() {
    List<String> names = new ArrayList<>(new TreeSet<>(allFilterNames()));
    List<String> failures = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    int renders = 0;
    for (String v : VALUES) {
      for (String f : names) {
        List<String> calls = new ArrayList<>();
        calls.add("{{ (" + v + ")|" + f + " }}");
        calls.add("{{ (" + v + ") is " + f + " }}");
        for (String a : ARGS) {
          calls.add("{{ (" + v + ")|" + f + "(" + a + ") }}");
          calls.add("{{ (" + v + ") is " + f + "(" + a + ") }}");
          for (String b : ARGS) {
            calls.add("{{ (" + v + ")|" + f + "(" + a + ", " + b + ") }}");
          }
        }
        for (String src : calls) {
          String tpl = "{% set ns = namespace(a=1) %}{% set lst = [0, 1, 2] %}" + src;
          try {
            Template t = Template.compile(tpl);
            renders++;
            t.render(Map.of("x", 1));
          } catch (TemplateException e) {
            // a Python-level error: fine
          } catch (RuntimeException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            StackTraceElement at = c.getStackTrace().length > 0 ? c.getStackTrace()[0] : null;
            String sig = f + ": " + c.getClass().getSimpleName() + " at " + at;
            if (seen.add(sig)) {
              failures.add(src + " -> " + c + " at " + java.util.Arrays.toString(
                  java.util.Arrays.copyOf(c.getStackTrace(), Math.min(3, c.getStackTrace().length))));
            }
          }
        }
      }
    }
    assertTrue(renders > 10_000, "sweep rendered " + renders);
    assertTrue(failures.isEmpty(), failures.size() + " Java exceptions, e.g.:\n" + String.join("\n",
        failures.subList(0, Math.min(40, failures.size()))));
  }

  @Test
  void noJavaExceptionEscapesOperatorsMethodsOrGlobals() {
    String[] ops = {"+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "and",
        "or"};
    String[] methods = {"strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "lower",
        "upper", "casefold", "title", "capitalize", "swapcase", "replace", "find", "rfind", "index", "rindex", "count",
        "join", "format", "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum", "isspace", "isupper", "islower",
        "partition", "rpartition", "zfill", "center", "ljust", "rjust", "removeprefix", "removesuffix", "get", "items",
        "keys", "values", "copy", "cycle", "changed", "a", "upper", "unescape", "striptags", "escape"};
    String[] globals = {"range", "namespace", "dict", "lipsum", "cycler", "joiner", "raise_exception", "strftime_now"};
    List<String> sources = new ArrayList<>();
    for (String v : VALUES) {
      for (String w : VALUES) {
        for (String op : ops) {
          sources.add("{{ (" + v + ") " + op + " (" + w + ") }}");
        }
        sources.add("{{ (" + v + ")[" + w + "] }}");
        sources.add("{{ (" + v + ")[" + w + ":] }}");
        sources.add("{{ (" + v + ")[:" + w + ":" + w + "] }}");
        sources.add("{% for a in " + v + " %}{{ a }}{{ loop.cycle(" + w + ") }}{{ loop.changed(" + w + ") }}"
            + "{{ loop.previtem }}{% endfor %}");
        sources.add("{% set a, b = " + v + " %}{{ a }}{{ b }}");
      }
      sources.add("{{ -(" + v + ") }}{{ not (" + v + ") }}");
      for (String m : methods) {
        sources.add("{{ (" + v + ")." + m + "() }}");
        for (String a : ARGS) {
          sources.add("{{ (" + v + ")." + m + "(" + a + ") }}");
          sources.add("{{ (" + v + ")." + m + "(" + a + ", " + a + ") }}");
          sources.add("{{ (" + v + ")." + m + "(" + a + ", " + a + ", " + a + ") }}");
        }
      }
      for (String g : globals) {
        sources.add("{{ " + g + "(" + v + ") }}");
        sources.add("{{ " + g + "(" + v + ", " + v + ") }}");
        sources.add("{{ " + g + "(" + v + ", " + v + ", " + v + ") }}");
        sources.add("{{ " + g + "(k=" + v + ") }}");
      }
      sources.add("{{ ns.a(" + v + ") }}{% set ns.b = " + v + " %}{{ ns.b }}");
      sources.add("{{ '%s %d %r %5.2f %(k)s'|format(" + v + ") }}{{ '%s' % (" + v + ") }}");
      sources.add("{{ '{} {:>5} {0!r} {k}'.format(" + v + ") }}{{ '{0:d}'.format(" + v + ") }}");
      sources.add("{{ ('{} {:>5} {0!r} {k}'|safe).format(" + v + ") }}{{ ('%s %d %r'|safe) % (" + v + ") }}"
          + "{{ ('<b>'|safe).join(" + v + ") }}{{ (" + v + ")|indent('>'|safe) }}{{ (" + v + ")|truncate(3, end='<'|safe) }}");
      sources.add("{{ (" + v + ")|tojson(indent=" + v + ", separators=" + v + ", sort_keys=true) }}");
      sources.add("{% macro m(a, b=" + v + ") %}{{ a }}{{ b }}{{ caller() if caller is defined }}{% endmacro %}"
          + "{{ m(" + v + ") }}{% call m(" + v + ") %}x{% endcall %}{{ m(*" + v + ") }}{{ m(**" + v + ") }}");
    }
    List<String> failures = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (String src : sources) {
      String tpl = "{% set ns = namespace(a=1) %}{% set lst = [0, 1, 2] %}" + src;
      try {
        Template.compile(tpl).render(Map.of("x", 1));
      } catch (TemplateException e) {
        // a Python-level error: fine
      } catch (RuntimeException | StackOverflowError e) {
        Throwable c = e.getCause() != null ? e.getCause() : e;
        StackTraceElement at = c.getStackTrace().length > 0 ? c.getStackTrace()[0] : null;
        if (seen.add(c.getClass().getSimpleName() + " at " + at)) {
          failures.add(src + " -> " + c + " at " + java.util.Arrays.toString(
              java.util.Arrays.copyOf(c.getStackTrace(), Math.min(3, c.getStackTrace().length))));
        }
      }
    }
    assertTrue(sources.size() > 5_000, "sweep rendered " + sources.size());
    assertTrue(failures.isEmpty(), failures.size() + " distinct Java exceptions:\n" + String.join("\n", failures));
  }

  private static List<String> allFilterNames() {
    List<String> out = new ArrayList<>();
    for (String n : new String[] {"length", "count", "string", "safe", "tojson", "trim", "upper", "lower", "title",
        "capitalize", "replace", "join", "map", "select", "reject", "selectattr", "rejectattr", "list", "first", "last",
        "default", "d", "int", "float", "abs", "round", "items", "dictsort", "unique", "reverse", "sort", "indent", "e",
        "escape", "forceescape", "min", "max", "sum", "batch", "wordcount", "center", "truncate", "attr", "format",
        "pprint", "striptags", "defined", "undefined", "none", "boolean", "true", "false", "integer", "float",
        "number", "mapping", "sequence", "iterable", "callable", "odd", "even", "divisibleby", "eq", "ne", "lt", "le",
        "gt", "ge", "in", "sameas", "escaped", "filter", "test"}) {
      out.add(n);
    }
    return out;
  }
}
