package dev.jgen.notebooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Executes every notebook in {@code notebooks/} headlessly with Debian's Jupyter and the project's Java kernel
 * ({@link KernelSpec}), then renders it to HTML, all under {@code jobs/target/executed-notebooks/}. A cell that throws
 * (the notebooks end their sections with {@code check(...)}) fails its test; so does a chart missing from the HTML
 * (each {@code showChart(...)} call must be one embedded PNG) or a notebook committed with outputs.
 */
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class NotebooksTest {
  private static final Path JOBS = Path.of("").toAbsolutePath().normalize();  // surefire runs in jobs/
  private static final Path NOTEBOOKS = JOBS.getParent().resolve("notebooks");
  private static final Path EXECUTED = JOBS.resolve("target/executed-notebooks");
  /**
   * The notebooks' scratch folder, emptied once per test run: 03 inspects the table 02 leaves there (run alone, 03 makes
   * a small run of its own first), which keeps the suite's time down.
   */
  private static final Path WORK = EXECUTED.resolve("work");
  private static final String HTML_PNG = "<img src=\"data:image/png;base64,";
  private static final Pattern SHOW_CHART = Pattern.compile("(?m)^\\s*showChart\\(");
  private static final ObjectMapper JSON = new ObjectMapper();
  /** nbconvert's own limits are per cell (600 s) and for start-up (120 s); this one ends a hung nbconvert. */
  private static final long PROCESS_TIMEOUT_S = 900;

  private static String jupyterProblem;
  private static boolean kernelWritten;

  @TestFactory
  Stream<DynamicTest> everyNotebookExecutes() throws IOException {
    List<Path> notebooks;
    try (Stream<Path> files = Files.list(NOTEBOOKS)) {
      notebooks = files.filter(p -> p.getFileName().toString().endsWith(".ipynb")).sorted().toList();
    }
    assertFalse(notebooks.isEmpty(), "no notebooks in " + NOTEBOOKS);
    return notebooks.stream().map(nb -> DynamicTest.dynamicTest(nb.getFileName().toString(), nb.toUri(), () -> execute(nb)));
  }

  private static void execute(Path notebook) throws Exception {
    requireJupyter();
    synchronized (NotebooksTest.class) {
      if (!kernelWritten) {
        KernelSpec.write(JOBS);
        Files.createDirectories(EXECUTED);
        deleteTree(WORK);
        kernelWritten = true;
      }
    }
    String name = notebook.getFileName().toString();
    String stem = name.substring(0, name.length() - ".ipynb".length());
    JsonNode source = JSON.readTree(notebook.toFile());
    int charts = countCharts(source);

    Path executed = EXECUTED.resolve(name);
    Files.deleteIfExists(executed);
    Result run = jupyter(EXECUTED.resolve(stem + ".log"), Map.of("JGEN_NOTEBOOK_WORK", WORK.toString()),
        "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=" + KernelSpec.NAME, "--ExecutePreprocessor.timeout=600",
        "--ExecutePreprocessor.startup_timeout=120", "--output-dir", EXECUTED.toString(), notebook.toString());
    if (run.exit != 0) {
      fail(name + " failed (nbconvert exit " + run.exit + ", log " + run.log + "):\n" + cellError(run.output));
    }
    JsonNode out = JSON.readTree(executed.toFile());
    int images = 0;
    for (JsonNode cell : out.path("cells")) {
      for (JsonNode o : cell.path("outputs")) {
        assertFalse("error".equals(o.path("output_type").asText()), name + ": a cell has an error output: " + o);
        if (o.path("data").has("image/png")) {
          images++;
        }
      }
    }
    assertEquals(charts, images, name + ": PNG outputs, one per showChart(...) call");

    Result html = jupyter(EXECUTED.resolve(stem + ".html.log"), Map.of(), "nbconvert", "--to", "html", "--output-dir",
        EXECUTED.toString(), executed.toString());
    assertEquals(0, html.exit, name + ": nbconvert --to html failed:\n" + tail(html.output, 3000));
    String page = Files.readString(EXECUTED.resolve(stem + ".html"), StandardCharsets.UTF_8);
    assertEquals(charts, count(page, HTML_PNG), name + ": charts embedded as PNG in " + EXECUTED.resolve(stem + ".html"));

    assertTrue(withoutOutputs(source), name + " is committed with outputs or execution counts; clear them with "
        + "`jupyter nbconvert --clear-output --inplace notebooks/" + name + "` (bin/notebooks does not save outputs)");
  }

  /** Jupyter comes from Debian (bin/test installs it); without it the suite fails rather than skip its notebooks. */
  private static synchronized void requireJupyter() {
    if (jupyterProblem == null) {
      try {
        Result r = jupyter(JOBS.resolve("target/jupyter/nbconvert-version.log"), Map.of(), "nbconvert", "--version");
        jupyterProblem = r.exit == 0 ? "" : "`jupyter nbconvert --version` exited " + r.exit + ": " + tail(r.output, 500);
      } catch (IOException e) {
        jupyterProblem = e.getMessage();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        jupyterProblem = "interrupted";
      }
    }
    if (!jupyterProblem.isEmpty()) {
      fail("Jupyter's nbconvert is needed to execute the notebooks and could not be run (" + jupyterProblem + "). "
          + "Run the tests with bin/test, which installs it (Debian packages jupyter-nbconvert jupyter-client).");
    }
  }

  private record Result(int exit, String output, Path log) {}

  /** Runs Debian's jupyter with every Jupyter folder under target/ (nothing in HOME), output to a log file. */
  private static Result jupyter(Path log, Map<String, String> env, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Files.isExecutable(Path.of("/usr/bin/jupyter")) ? "/usr/bin/jupyter" : "jupyter");
    cmd.addAll(List.of(args));
    Files.createDirectories(log.getParent());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    environment(pb.environment(), JOBS);
    pb.environment().putAll(env);
    Process p = pb.start();
    if (!p.waitFor(PROCESS_TIMEOUT_S, TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.waitFor();
      return new Result(-1, "timed out after " + PROCESS_TIMEOUT_S + " s\n" + Files.readString(log), log);
    }
    return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8), log);
  }

  /** The environment of jupyter and its kernels, as bin/notebooks sets it. */
  static void environment(Map<String, String> env, Path jobs) {
    Path jupyter = KernelSpec.jupyterPath(jobs);
    env.put("JUPYTER_PATH", jupyter.toString());
    env.put("JUPYTER_RUNTIME_DIR", jupyter.resolve("runtime").toString());
    env.put("JUPYTER_DATA_DIR", jupyter.resolve("data").toString());
    env.put("JUPYTER_CONFIG_DIR", jupyter.resolve("config").toString());
    env.put("IPYTHONDIR", jupyter.resolve("ipython").toString());
    env.put("PYDEVD_DISABLE_FILE_VALIDATION", "1");
    env.put("JGEN_CONF", jobs.getParent().resolve("conf").toString());
    // The tests' model cache (surefire's -Djgen.cache), so the tiny model is written once per build.
    String cache = System.getProperty("jgen.cache");
    env.put("JGEN_CACHE", cache != null ? cache : jobs.resolve("target/jgen-cache").toString());
  }

  private static void deleteTree(Path dir) throws IOException {
    if (Files.exists(dir)) {
      try (Stream<Path> paths = Files.walk(dir)) {
        for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(p);
        }
      }
    }
  }

  static int countCharts(JsonNode notebook) {
    int n = 0;
    for (JsonNode cell : notebook.path("cells")) {
      if ("code".equals(cell.path("cell_type").asText())) {
        Matcher m = SHOW_CHART.matcher(text(cell.path("source")));
        while (m.find()) {
          n++;
        }
      }
    }
    return n;
  }

  private static boolean withoutOutputs(JsonNode notebook) {
    for (JsonNode cell : notebook.path("cells")) {
      if ("code".equals(cell.path("cell_type").asText())
          && (cell.path("outputs").size() > 0 || !cell.path("execution_count").isNull())) {
        return false;
      }
    }
    return true;
  }

  private static String text(JsonNode source) {
    if (source.isArray()) {
      StringBuilder sb = new StringBuilder();
      source.forEach(s -> sb.append(s.asText()));
      return sb.toString();
    }
    return source.asText();
  }

  private static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length())) {
      n++;
    }
    return n;
  }

  /** nbconvert's CellExecutionError (the failing cell and its message) without the kernel's INFO lines, or the log's tail. */
  private static String cellError(String log) {
    int at = log.indexOf("CellExecutionError");
    String part = at >= 0 ? log.substring(at) : log;
    String filtered = String.join("\n", part.lines().filter(l -> !l.contains("[INFO   ]")).toList());
    return tail(filtered.replaceAll("\u001B\\[[0-9;]*m", ""), 6000);
  }

  private static String tail(String s, int max) {
    return s.length() <= max ? s : "…" + s.substring(s.length() - max);
  }
}
