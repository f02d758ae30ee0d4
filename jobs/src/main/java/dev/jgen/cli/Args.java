package dev.jgen.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Command-line options: {@code --name value}, {@code --flag}, and repeatable {@code --set k=v}. Unknown options are errors. */
final class Args {
  final Map<String, String> options = new LinkedHashMap<>();
  final List<String> sets = new ArrayList<>();
  final List<String> positional = new ArrayList<>();
  /** Every value of a repeated option, in order (options keeps the last). */
  final Map<String, List<String>> repeated = new LinkedHashMap<>();

  static Args parse(String[] argv, int from, Set<String> valued, Set<String> flags) {
    Args a = new Args();
    for (int i = from; i < argv.length; i++) {
      String s = argv[i];
      if (s.equals("--set")) {
        a.sets.add(value(argv, ++i, s));
      } else if (s.startsWith("--set=")) {
        a.sets.add(s.substring(6));
      } else if (s.startsWith("--")) {
        String name = s.contains("=") ? s.substring(2, s.indexOf('=')) : s.substring(2);
        if (flags.contains(name)) {
          a.options.put(name, "true");
        } else if (valued.contains(name)) {
          String v = s.contains("=") ? s.substring(s.indexOf('=') + 1) : value(argv, ++i, s);
          a.options.put(name, v);
          a.repeated.computeIfAbsent(name, k -> new ArrayList<>()).add(v);
        } else {
          throw new UsageException("unknown option " + s);
        }
      } else {
        a.positional.add(s);
      }
    }
    return a;
  }

  private static String value(String[] argv, int i, String option) {
    if (i >= argv.length) {
      throw new UsageException(option + " needs a value");
    }
    return argv[i];
  }

  String get(String name) {
    return options.get(name);
  }

  List<String> all(String name) {
    return repeated.getOrDefault(name, List.of());
  }

  boolean flag(String name) {
    return options.containsKey(name);
  }

  static final class UsageException extends RuntimeException {
    UsageException(String message) {
      super(message);
    }
  }
}
