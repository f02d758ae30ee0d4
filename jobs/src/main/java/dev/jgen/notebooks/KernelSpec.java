package dev.jgen.notebooks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes the project-local Jupyter kernelspec of the notebooks, {@code jobs/target/jupyter/kernels/jgen-java/}: the
 * rapaio Java kernel (rapaio-jupyter-kernel, copied into {@code target/jupyter/lib} by the build) in a JVM that has
 * the project's classes, Spark, Delta, llama.cpp and XChart on its system class path and Spark's JVM flags, started by
 * {@link KernelLauncher} (which configures JUL at INFO and keeps the kernel's channel loops alive at start-up) rather
 * than by the kernel's own {@code MainApp}. Nothing of the kernel jar is replaced or shadowed. Jupyter finds the kernel
 * with {@code JUPYTER_PATH=jobs/target/jupyter}; nothing is written into HOME. Used by {@code NotebooksTest} and
 * {@code bin/notebooks} (through {@link #main}); depends on the JDK only.
 */
public final class KernelSpec {
  public static final String NAME = "jgen-java";
  static final String KERNEL_JAR = "rapaio-jupyter-kernel-3.0.1.jar";
  static final String XCHART_JAR = "xchart-3.8.8.jar";

  private KernelSpec() {}

  /** {@code java dev.jgen.notebooks.KernelSpec [JOBS_DIR]}: writes the kernelspec, prints the JUPYTER_PATH to use. */
  public static void main(String[] args) {
    Path jobs = Path.of(args.length > 0 ? args[0] : "jobs").toAbsolutePath().normalize();
    write(jobs);
    System.out.println(jupyterPath(jobs));
  }

  /** The folder to put in JUPYTER_PATH: it holds {@code kernels/jgen-java}. */
  public static Path jupyterPath(Path jobsDir) {
    return jobsDir.resolve("target/jupyter");
  }

  /**
   * Writes kernel.json and kernel.sh, from a built module ({@code mvn package}: classes,
   * classpath.txt and the kernel jars must be there). Returns the kernelspec folder.
   */
  public static Path write(Path jobsDir) {
    Path jobs = jobsDir.toAbsolutePath().normalize();
    Path target = jobs.resolve("target");
    Path jupyter = jupyterPath(jobs);
    Path lib = jupyter.resolve("lib");
    List<String> missing = new ArrayList<>();
    for (Path p : List.of(target.resolve("classes/dev/jgen"), target.resolve("classpath.txt"), lib.resolve(KERNEL_JAR),
        lib.resolve(XCHART_JAR))) {
      if (!Files.exists(p)) {
        missing.add(jobs.relativize(p).toString());
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalStateException("the notebook kernel needs a built project; missing " + missing
          + " (run: mvn -B -DskipTests package)");
    }
    try {
      // Left by earlier versions of this class (a patched kernel class ahead of the kernel jar): no longer used.
      deleteTree(jupyter.resolve("kernel-patch"));
      Path spec = jupyter.resolve("kernels").resolve(NAME);
      Files.createDirectories(spec);
      Files.createDirectories(jupyter.resolve("runtime"));
      Path script = spec.resolve("kernel.sh");
      Files.writeString(script, script(jobs, lib));
      script.toFile().setExecutable(true);
      Files.writeString(spec.resolve("kernel.json"), kernelJson(script, jupyter));
      return spec;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String script(Path jobs, Path lib) {
    Path home = jobs.getParent();
    Path target = jobs.resolve("target");
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> flags = new ArrayList<>(List.of("-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=256m", "-XX:+UseParallelGC"));
    flags.addAll(List.of(sparkOpens(jobs).split("\\s+")));
    if (Runtime.version().feature() >= 24) {
      flags.addAll(List.of("--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"));
    }
    // Spark reads spark.* system properties as defaults: no Spark UI, and no spark-warehouse/ in notebooks/.
    flags.add("-Dspark.ui.enabled=false");
    flags.add("-Dspark.sql.warehouse.dir=" + q(target.resolve("notebooks/spark-warehouse")));
    flags.add("-Dai.djl.offline=true");
    flags.add("-Dlog4j2.configurationFile=" + q(home.resolve("conf/spark/log4j2.properties")));
    // Order matters: the kernel jar (its gson, commons-codec) before Spark's jars.
    String cp = String.join(":", lib.resolve(KERNEL_JAR).toString(), lib.resolve(XCHART_JAR).toString(),
        target.resolve("classes").toString()) + ":$(cat " + q(target.resolve("classpath.txt")) + ")";
    return String.join("\n",
        "#!/bin/sh",
        "# The jgen notebook kernel, written by dev.jgen.notebooks.KernelSpec (bin/notebooks and NotebooksTest rewrite it).",
        "# Cells run in this JVM through JShell; Spark runs in local mode inside it.",
        "JGEN_HOME=" + q(home),
        "export JGEN_HOME",
        "export SPARK_LOCAL_IP=\"${SPARK_LOCAL_IP:-127.0.0.1}\" DJL_OFFLINE=\"${DJL_OFFLINE:-true}\" RUST_FLAVOR=\"${RUST_FLAVOR:-cpu}\"",
        "export JGEN_CONF=\"${JGEN_CONF:-$JGEN_HOME/conf}\" JGEN_CACHE=\"${JGEN_CACHE:-$JGEN_HOME/.cache}\"",
        "# java-llama.cpp deletes llama* files in its temp folder: one folder per kernel, removed once its kernel is gone.",
        "tmp=" + q(target.resolve("jupyter/jllama")),
        "mkdir -p \"$tmp/$$\"",
        "for d in \"$tmp\"/*; do pid=\"${d##*/}\"; [ \"$pid\" = \"$$\" ] || kill -0 \"$pid\" 2>/dev/null || rm -rf \"$d\"; done",
        "exec " + q(java) + " ${JGEN_NOTEBOOK_JAVA_OPTS:--Xmx2g} \\",
        "  " + String.join(" ", flags) + " \\",
        "  -Dde.kherud.llama.tmpdir=\"$tmp/$$\" \\",
        "  -cp \"" + cp + "\" \\",
        "  " + KernelLauncher.class.getName() + " \"$1\"",
        "");
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (java.util.stream.Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  private static String kernelJson(Path script, Path jupyter) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("RJK_MIMA_CACHE", jupyter.resolve("mima-cache").toString());
    StringBuilder sb = new StringBuilder("{\n");
    sb.append("  \"argv\": [\"sh\", ").append(json(script.toString())).append(", \"{connection_file}\"],\n");
    sb.append("  \"display_name\": \"Java (jgen: Spark, Delta, llama.cpp)\",\n");
    sb.append("  \"language\": \"java\",\n");
    sb.append("  \"interrupt_mode\": \"message\",\n");
    sb.append("  \"env\": {");
    int i = 0;
    for (Map.Entry<String, String> e : env.entrySet()) {
      sb.append(i++ == 0 ? "" : ", ").append(json(e.getKey())).append(": ").append(json(e.getValue()));
    }
    return sb.append("}\n}\n").toString();
  }

  /** Spark's module opens, from the one place the build keeps them: {@code <spark.opens>} in jobs/pom.xml. */
  static String sparkOpens(Path jobs) {
    try {
      Matcher m = Pattern.compile("<spark\\.opens>([^<]+)</spark\\.opens>").matcher(Files.readString(jobs.resolve("pom.xml")));
      if (!m.find()) {
        throw new IllegalStateException(jobs.resolve("pom.xml") + " has no <spark.opens> property");
      }
      return m.group(1).trim();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A path in double quotes for sh; a path with characters that would need escaping there is refused. */
  private static String q(Path p) {
    String s = p.toString();
    if (s.matches(".*[\"$`\\\\:\n].*")) {
      throw new IllegalArgumentException("the notebook kernel cannot use a path with \", $, `, \\, : or a line break: " + s);
    }
    return "\"" + s + "\"";
  }

  private static String json(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }
}
