package dev.jgen.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs {@code jgen} in a separate JVM, as bin/jgen does, so a test can kill it with SIGKILL. */
public final class ChildJob {
  private ChildJob() {}

  public static Process start(Path log, String... args) {
    return start(log, null, args);
  }

  /** As {@link #start(Path, String...)}, with standard error to a file of its own when {@code errLog} is not null. */
  public static Process start(Path log, Path errLog, String... args) {
    return start(log, errLog, java.util.Map.of(), args);
  }

  /** As {@link #start(Path, Path, String...)}, with extra environment variables for the child. */
  public static Process start(Path log, Path errLog, java.util.Map<String, String> env, String... args) {
    return start(log, errLog, env, 1024, args);
  }

  /** As {@link #start(Path, Path, java.util.Map, String...)}, with the child's maximum heap ({@code -Xmx}) in MiB. */
  public static Process start(Path log, Path errLog, java.util.Map<String, String> env, int heapMb, String... args) {
    return startMain("dev.jgen.cli.Main", log, errLog, env, heapMb, args);
  }

  /** A JVM like {@link #start(Path, Path, java.util.Map, int, String...)} running another main class (its stdin a pipe). */
  public static Process startMain(String mainClass, Path log, Path errLog, java.util.Map<String, String> env, int heapMb,
      String... args) {
    Path target = Path.of("target");
    try {
      // test-classes after classes: a test's own main class (JobServer) runs jgen's code as a job would.
      // (ChildCds: as jars, so that the children share one class-data-sharing archive.)
      ChildCds.Plan cds = ChildCds.plan(target);
      String cp = cds.classPath();
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.add("-XX:TieredStopAtLevel=1");
      cmd.add("-Xmx" + heapMb + "m");
      // C1 alone gets a 48 MB code cache by default: a Spark job fills it, and the JVM then interprets new code (a child
      // several times slower, on a loaded machine slow enough to miss its own heartbeats).
      cmd.add("-XX:ReservedCodeCacheSize=256m");
      cmd.addAll(cds.flags());
      // The same JVM flags as this test JVM (Spark's opens, the private llama.cpp temp dir, the test cache).
      for (String a : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
        if (a.startsWith("--add-opens") || a.startsWith("-Djdk.") || a.startsWith("-Dio.netty") || a.startsWith("-Djgen.cache")
            || a.startsWith("-Dlog4j2") || a.startsWith("--sun-misc") || a.startsWith("--enable-native")) {
          cmd.add(a);
        }
      }
      Path llamaTmp = Files.createTempDirectory("jgen-child-jllama");
      cmd.add("-Dde.kherud.llama.tmpdir=" + llamaTmp);
      cmd.add("-cp");
      cmd.add(cp);
      cmd.add(mainClass);
      cmd.addAll(List.of(args));
      ProcessBuilder pb = new ProcessBuilder(cmd);
      if (log != null) {
        pb.redirectOutput(log.toFile()); // otherwise a pipe: Process.getInputStream
      }
      if (errLog == null) {
        pb.redirectErrorStream(true); // with log null too: stderr joins the pipe
      } else {
        pb.redirectError(errLog.toFile());
      }
      pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
      pb.environment().putAll(env);
      Process p = pb.start();
      ChildCds.started(cds, p);
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
