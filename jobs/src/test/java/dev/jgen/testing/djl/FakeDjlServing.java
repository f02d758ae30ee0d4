package dev.jgen.testing.djl;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * A fake {@code djl-serving} command for launch mode: a bash script that records its arguments, environment and the
 * {@code serving.properties} it was given into {@code <records>/launch-<pid>.*}, then {@code exec}s the stand-in
 * ({@link StandInMain}) in a JVM of its own, so the recorded pid is the server's.
 */
public final class FakeDjlServing {
  private FakeDjlServing() {}

  /** One recorded launch. */
  public record Launch(long pid, String args, Map<String, String> env, Properties servingProperties) {}

  /** Writes the script; {@code failWith} non-null makes it print that and exit 3 instead of serving. */
  public static Path write(Path dir, Path records, Path tinyModel, String failWith) throws IOException {
    Files.createDirectories(dir);
    Files.createDirectories(records);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    StringBuilder s = new StringBuilder();
    s.append("#!/usr/bin/env bash\n");
    s.append("# fake djl-serving for jgen's launch-mode tests\n");
    s.append("rec=").append(q(records.toString())).append("/launch-$$\n");
    s.append("echo \"$*\" > \"$rec.args\"\n");
    s.append("env | grep -E '^(CUDA_VISIBLE_DEVICES|SERVING_|OPTION_)' | sort > \"$rec.env\"\n");
    s.append("model=''\n");
    s.append("while [ $# -gt 0 ]; do if [ \"$1\" = -m ]; then model=\"${2#*=}\"; model=\"${model#file:}\"; shift; fi; shift; done\n");
    s.append("[ -n \"$model\" ] && cp \"$model/serving.properties\" \"$rec.properties\"\n");
    s.append("echo \"fake djl-serving: model $model on GPUs ${CUDA_VISIBLE_DEVICES-unset} at $SERVING_INFERENCE_ADDRESS\"\n");
    if (failWith != null) {
      s.append("echo 'Loading model jgen ...'\n");
      s.append("echo ").append(q(failWith)).append("\n");
      s.append("exit 3\n");
    } else {
      s.append("exec ").append(q(java)).append(" -Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
          .append(System.getProperty("jgen.cache") == null ? "" : " -Djgen.cache=" + q(System.getProperty("jgen.cache")))
          .append(" -cp ").append(q(classPath()))
          .append(" dev.jgen.testing.djl.StandInMain --tiny-model ").append(q(tinyModel.toString()))
          .append(" --step-ms 5 -m \"jgen=file:$model\"\n");
    }
    Path script = dir.resolve(failWith == null ? "djl-serving" : "djl-serving-failing");
    Files.writeString(script, s.toString(), StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    return script;
  }

  /** The launches recorded so far. */
  public static List<Launch> launches(Path records) throws IOException {
    List<Launch> out = new ArrayList<>();
    try (var files = Files.list(records)) {
      for (Path args : files.filter(f -> f.getFileName().toString().endsWith(".args")).sorted().toList()) {
        String base = args.getFileName().toString().replace(".args", "");
        long pid = Long.parseLong(base.substring("launch-".length()));
        Map<String, String> env = new LinkedHashMap<>();
        Path envFile = records.resolve(base + ".env");
        if (Files.exists(envFile)) {
          for (String line : Files.readAllLines(envFile)) {
            int eq = line.indexOf('=');
            if (eq > 0) {
              env.put(line.substring(0, eq), line.substring(eq + 1));
            }
          }
        }
        Properties props = new Properties();
        Path pf = records.resolve(base + ".properties");
        if (Files.exists(pf)) {
          try (var r = Files.newBufferedReader(pf)) {
            props.load(r);
          }
        }
        out.add(new Launch(pid, Files.readString(args).strip(), env, props));
      }
    }
    return out;
  }

  private static String q(String s) {
    return "'" + s.replace("'", "'\"'\"'") + "'";
  }

  /** This JVM's class path, including what a launcher (JUnit's console, an IDE) added through its class loader. */
  public static String classPath() {
    Set<String> entries = new LinkedHashSet<>();
    for (ClassLoader cl = FakeDjlServing.class.getClassLoader(); cl != null; cl = cl.getParent()) {
      if (cl instanceof URLClassLoader u) {
        for (URL url : u.getURLs()) {
          try {
            entries.add(Path.of(url.toURI()).toString());
          } catch (URISyntaxException | IllegalArgumentException e) {
            // not a file
          }
        }
      }
    }
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (!e.isBlank()) {
        entries.add(e);
      }
    }
    return String.join(File.pathSeparator, entries);
  }
}
