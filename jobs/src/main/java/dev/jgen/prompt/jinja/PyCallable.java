package dev.jgen.prompt.jinja;

import java.util.List;
import java.util.Map;

/** Anything a template may call: globals, macros, bound Python methods, loop.cycle. */
interface PyCallable {
  Object call(List<Object> args, Map<String, Object> kwargs);
}
