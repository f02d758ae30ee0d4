package dev.jgen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packages' dependencies, read from the compiled main classes (the JDK's jdeps over target/classes), as
 * docs/architecture.md draws them: no package cycle (each sub-package, such as {@code engine.serving}, counts as a
 * package of its own), the core {@code engine} package free of the job's packages, and every package using only
 * packages of lower layers.
 *
 * <p>Class files show every type a class uses (fields, signatures, calls, throws clauses), but not a compile-time
 * constant taken from another package: javac copies its value.
 */
class PackageDependenciesTest {
  /** Layers, lowest first; a package may use the packages of lower layers only. docs/architecture.md shows the same. */
  private static final Map<String, Integer> LAYER = Map.ofEntries(
      Map.entry("structured", 0), Map.entry("model", 0), Map.entry("notebooks", 0), Map.entry("prompt.jinja", 0),
      Map.entry("engine", 1),
      Map.entry("config", 2),
      Map.entry("catalog", 3),
      Map.entry("prompt", 4),
      Map.entry("engine.job", 5), Map.entry("delta", 5), Map.entry("input", 5), Map.entry("generate", 5),
      Map.entry("spark", 6), Map.entry("export", 6), Map.entry("report", 6),
      Map.entry("eval", 7), Map.entry("curate", 7),
      // The engines plug in from above (ServiceLoader): no job code names one.
      Map.entry("engine.llamanative", 8), Map.entry("engine.echo", 8), Map.entry("engine.serving", 8),
      Map.entry("engine.llamacpp", 9),
      Map.entry("cli", 10));

  /** References that go against the layers today, "from -> to" (none: keep it that way). */
  private static final Set<String> KNOWN_UPWARDS = Set.of();

  /** What the core engine package must not reach, directly or through other packages. */
  private static final List<String> NOT_FOR_ENGINE = List.of("config", "prompt", "catalog");

  /** A dependency line of {@code jdeps -verbose:class}: "from.Class -> to.Class location". */
  private static final Pattern EDGE = Pattern.compile("^\\s*(dev\\.jgen\\.\\S+)\\s+->\\s+(dev\\.jgen\\.\\S+)\\s");

  /** Package (without "dev.jgen.") to the packages it uses, with one class-level example per pair. */
  private static final Map<String, Map<String, String>> USES = new TreeMap<>();

  @BeforeAll
  static void readClasses() throws IOException {
    Path classes = Files.isDirectory(Path.of("target/classes/dev/jgen")) ? Path.of("target/classes")
        : Path.of("jobs/target/classes");
    assertTrue(Files.isDirectory(classes.resolve("dev/jgen")), "no compiled classes under " + classes.toAbsolutePath());
    try (Stream<Path> files = Files.walk(classes.resolve("dev/jgen"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
        String pkg = classes.relativize(f.getParent()).toString().replace('/', '.').replace('\\', '.');
        USES.computeIfAbsent(shortName(pkg), k -> new TreeMap<>());
      }
    }
    ToolProvider jdeps = ToolProvider.findFirst("jdeps")
        .orElseThrow(() -> new AssertionError("jdeps is not in this JDK (module jdk.jdeps)"));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc = jdeps.run(new PrintWriter(out), new PrintWriter(err), "-verbose:class", "-e", "dev\\.jgen\\..*",
        classes.toString());
    assertEquals(0, rc, "jdeps failed: " + err);
    for (String line : out.toString().split("\\R")) {
      Matcher m = EDGE.matcher(line);
      if (m.find()) {
        String from = shortName(packageOf(m.group(1)));
        String to = shortName(packageOf(m.group(2)));
        if (!from.equals(to)) {
          USES.computeIfAbsent(from, k -> new TreeMap<>()).putIfAbsent(to, m.group(1) + " -> " + m.group(2));
          USES.computeIfAbsent(to, k -> new TreeMap<>());
        }
      }
    }
    assertTrue(USES.getOrDefault("spark", Map.of()).containsKey("engine"), "jdeps output not understood: " + out);
  }

  @Test
  void noPackageCycles() {
    List<String> cycles = new ArrayList<>();
    for (Set<String> component : stronglyConnected()) {
      if (component.size() > 1) {
        List<String> edges = new ArrayList<>();
        for (String from : component) {
          USES.get(from).forEach((to, example) -> {
            if (component.contains(to)) {
              edges.add(from + " -> " + to + " (" + example + ")");
            }
          });
        }
        cycles.add(component + ": " + edges);
      }
    }
    assertTrue(cycles.isEmpty(), "package cycles:\n" + String.join("\n", cycles));
  }

  @Test
  void coreEngineKnowsNothingOfJobs() {
    Set<String> reached = new TreeSet<>();
    Deque<String> todo = new ArrayDeque<>(USES.get("engine").keySet());
    while (!todo.isEmpty()) {
      String p = todo.pop();
      if (reached.add(p)) {
        todo.addAll(USES.getOrDefault(p, Map.of()).keySet());
      }
    }
    List<String> forbidden = reached.stream()
        .filter(p -> NOT_FOR_ENGINE.stream().anyMatch(n -> p.equals(n) || p.startsWith(n + ".")))
        .toList();
    assertTrue(forbidden.isEmpty(), "dev.jgen.engine reaches " + forbidden + " (directly: " + USES.get("engine")
        + "); engine-kind specifics belong in the providers (engine.job.JobEngineProvider)");
  }

  @Test
  void packagesDependDownwardsOnly() {
    Set<String> upwards = new TreeSet<>();
    List<String> unexpected = new ArrayList<>();
    for (Map.Entry<String, Map<String, String>> e : USES.entrySet()) {
      String from = e.getKey();
      assertTrue(LAYER.containsKey(from), "package dev.jgen." + from + " has no layer: place it in "
          + "PackageDependenciesTest.LAYER and in docs/architecture.md");
      e.getValue().forEach((to, example) -> {
        assertTrue(LAYER.containsKey(to), "package dev.jgen." + to + " has no layer");
        if (LAYER.get(to) >= LAYER.get(from)) {
          String edge = from + " -> " + to;
          if (KNOWN_UPWARDS.contains(edge)) {
            upwards.add(edge);
          } else {
            unexpected.add(edge + " (" + example + ")");
          }
        }
      });
    }
    assertTrue(unexpected.isEmpty(), "references against the packages' direction (docs/architecture.md):\n"
        + String.join("\n", unexpected));
    assertEquals(KNOWN_UPWARDS, upwards, "a listed exception is gone: remove it from KNOWN_UPWARDS and from docs/architecture.md");
  }

  /** Tarjan's strongly connected components of the package graph. */
  private static List<Set<String>> stronglyConnected() {
    Map<String, Integer> index = new HashMap<>();
    Map<String, Integer> low = new HashMap<>();
    Deque<String> stack = new ArrayDeque<>();
    Set<String> onStack = new TreeSet<>();
    List<Set<String>> out = new ArrayList<>();
    for (String p : USES.keySet()) {
      if (!index.containsKey(p)) {
        connect(p, index, low, stack, onStack, out);
      }
    }
    return out;
  }

  private static void connect(String p, Map<String, Integer> index, Map<String, Integer> low, Deque<String> stack,
      Set<String> onStack, List<Set<String>> out) {
    index.put(p, index.size());
    low.put(p, index.get(p));
    stack.push(p);
    onStack.add(p);
    for (String q : USES.get(p).keySet()) {
      if (!index.containsKey(q)) {
        connect(q, index, low, stack, onStack, out);
        low.put(p, Math.min(low.get(p), low.get(q)));
      } else if (onStack.contains(q)) {
        low.put(p, Math.min(low.get(p), index.get(q)));
      }
    }
    if (low.get(p).equals(index.get(p))) {
      Set<String> component = new TreeSet<>();
      String q;
      do {
        q = stack.pop();
        onStack.remove(q);
        component.add(q);
      } while (!q.equals(p));
      out.add(component);
    }
  }

  private static String packageOf(String className) {
    return className.substring(0, className.lastIndexOf('.'));
  }

  private static String shortName(String pkg) {
    return pkg.startsWith("dev.jgen.") ? pkg.substring("dev.jgen.".length()) : pkg;
  }
}
