package dev.jgen.cluster;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A real Spark standalone cluster on this machine: a Master and N Workers (1 core each), every one its own JVM on
 * 127.0.0.1, started from the project's own dependency jars (target/classpath.txt), no Spark download.
 *
 * <p>Layout under {@code root/run-<pid>}: {@code home/jars/} (links to the Maven jars: the workers' {@code SPARK_HOME}, from which
 * they build their executors' class path), {@code app/jgen-app.jar} (a snapshot of target/classes, the application jar
 * handed to executors through {@code spark.jars}), {@code logs/}, {@code work/} (the workers' work dirs: executors'
 * stdout/stderr), {@code tmp/} (the executors' java.io.tmpdir: Spark's scratch space and the llama.cpp native libraries).
 *
 * <p>{@link #close()} kills every JVM it started, executors first, and waits for them; a shutdown hook does the same if
 * the test JVM ends before.
 */
public final class StandaloneCluster implements AutoCloseable {
  private static final String EXECUTOR_MAIN = "org.apache.spark.executor.CoarseGrainedExecutorBackend";
  /**
   * The dependencies that jobs/pom.xml's shade plugin bundles into the application jar (jgen-jobs-*-spark.jar): a Spark
   * cluster does not have them, so here too they travel with the application (spark.jars), not in the cluster's jars/.
   * Everything else on target/classpath.txt stands for the Spark installation.
   */
  private static final java.util.regex.Pattern APP_DEPENDENCIES = java.util.regex.Pattern.compile(
      "/(io/delta|io/unitycatalog|de/kherud/llama|ai/djl/api|ai/djl/huggingface/tokenizers|net/java/dev/jna/jna|com/google/code/gson/gson"
          + "|org/yaml/snakeyaml)/");

  private final Path dir;
  private final Path log4j;
  private final Path appJar;
  private String dependencies;
  private final List<String> appDependencies = new ArrayList<>();
  private final int masterPort;
  private final List<Process> daemons = new ArrayList<>();
  private final List<Path> daemonLogs = new ArrayList<>();
  private final Thread hook = new Thread(this::killAll, "standalone-cluster-stop");

  private StandaloneCluster(Path dir) throws IOException {
    this.dir = dir.toAbsolutePath();
    this.log4j = this.dir.resolve("log4j2.properties");
    this.appJar = this.dir.resolve("app").resolve("jgen-app.jar");
    this.masterPort = freePort();
  }

  /**
   * Starts a master and {@code workers} workers in {@code root/run-<this JVM's pid>} and waits until all workers
   * registered. Runs of earlier test JVMs that died without stopping their cluster are cleaned up first: their JVMs
   * (found by their run folder on the command line) are killed and the folder deleted.
   */
  public static StandaloneCluster start(Path root, int workers) {
    StandaloneCluster c;
    try {
      Files.createDirectories(root);
      try (Stream<Path> runs = Files.list(root)) {
        for (Path old : runs.filter(p -> p.getFileName().toString().matches("run-\\d+")).toList()) {
          long pid = Long.parseLong(old.getFileName().toString().substring(4));
          if (pid != ProcessHandle.current().pid() && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            continue; // another test JVM's cluster, still running
          }
          String path = old.toAbsolutePath().toString();
          List<ProcessHandle> stale = ProcessHandle.allProcesses()
              .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains(path + File.separator)).orElse(false)).toList();
          stale.forEach(ProcessHandle::destroyForcibly);
          for (ProcessHandle p : stale) {
            p.onExit().get(30, TimeUnit.SECONDS);
          }
          deleteTree(old);
        }
      }
      c = new StandaloneCluster(root.resolve("run-" + ProcessHandle.current().pid()));
    } catch (Exception e) {
      throw new IllegalStateException("cleaning " + root, e);
    }
    Runtime.getRuntime().addShutdownHook(c.hook);
    try {
      c.layout();
      c.daemon("master", List.of("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", String.valueOf(c.masterPort),
          "--webui-port", String.valueOf(freePort())), Map.of());
      c.awaitPort(c.masterPort, 60_000);
      for (int i = 1; i <= workers; i++) {
        Path work = c.dir.resolve("work").resolve("worker-" + i);
        Files.createDirectories(work);
        c.daemon("worker-" + i, List.of("org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--port", String.valueOf(freePort()),
            "--webui-port", String.valueOf(freePort()), "--cores", "1", "--memory", "1g", "--work-dir", work.toString(), c.masterUrl()),
            Map.of("SPARK_HOME", c.dir.resolve("home").toString(), "SPARK_SCALA_VERSION", "2.13"));
      }
      c.awaitWorkers(workers, 90_000);
      return c;
    } catch (RuntimeException | Error e) {
      c.close();
      throw e;
    } catch (Exception e) {
      c.close();
      throw new IllegalStateException(e);
    }
  }

  public String masterUrl() {
    return "spark://127.0.0.1:" + masterPort;
  }

  public Path dir() {
    return dir;
  }

  /**
   * The application's Spark settings for this cluster (as {@code spark.conf.*} of a jgen job): the application jar,
   * one 1-core executor per worker with a 768m heap, and the executors' JVM flags.
   */
  public Map<String, String> appConf() {
    List<String> opts = new ArrayList<>(jvmFlags());
    opts.add("-XX:TieredStopAtLevel=1");
    opts.add("-XX:ReservedCodeCacheSize=256m"); // C1 alone defaults to 48 MB, which a Spark job fills
    opts.add("-Djava.io.tmpdir=" + dir.resolve("tmp"));
    opts.add("-Dlog4j2.configurationFile=" + log4j);
    String cache = System.getProperty("jgen.cache");
    if (cache != null) {
      opts.add("-Djgen.cache=" + Path.of(cache).toAbsolutePath());
    }
    Map<String, String> conf = new LinkedHashMap<>();
    List<String> jars = new ArrayList<>(List.of(appJar.toString()));
    jars.addAll(appDependencies);
    conf.put("spark.jars", String.join(",", jars));
    conf.put("spark.executor.memory", "768m");
    conf.put("spark.executor.cores", "1");
    conf.put("spark.cores.max", String.valueOf(daemons.size() - 1));
    conf.put("spark.executor.extraJavaOptions", String.join(" ", opts));
    conf.put("spark.ui.enabled", "false");
    // Two cores in all: Spark's default 200 shuffle partitions (50 for Delta's log) would be thousands of empty tasks.
    conf.put("spark.sql.shuffle.partitions", "4");
    conf.put("spark.databricks.delta.snapshotPartitions", "2");
    // Give the job both executors before the first task: otherwise the first stages may all run on the first one up.
    conf.put("spark.scheduler.minRegisteredResourcesRatio", "1.0");
    conf.put("spark.scheduler.maxRegisteredResourcesWaitingTime", "60s");
    return conf;
  }

  /**
   * Starts {@code jgen} (dev.jgen.cli.Main) as this cluster's driver in a child JVM, as bin/jgen does, output to
   * {@code log}. Its class path is the same application jar the executors get (a snapshot of target/classes taken at
   * start, so driver and executors always run the same classes) plus the dependency jars.
   */
  public Process startDriver(Path log, List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-XX:ReservedCodeCacheSize=256m");
    cmd.add("-Xmx1g");
    cmd.addAll(jvmFlags());
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("-Djgen.cache") || a.startsWith("-Dlog4j2")) {
        cmd.add(a);
      }
    }
    cmd.add("-Djava.io.tmpdir=" + dir.resolve("tmp"));
    cmd.add("-cp");
    cmd.add(appJar + File.pathSeparator + dependencies);
    cmd.add("dev.jgen.cli.Main");
    cmd.addAll(args);
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
      return pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The live executor JVMs of this cluster (children of its workers), whatever the application. */
  public List<ProcessHandle> executors() {
    List<ProcessHandle> out = new ArrayList<>();
    for (Process d : daemons) {
      d.toHandle().descendants().filter(ProcessHandle::isAlive)
          .filter(p -> p.info().arguments().map(a -> List.of(a).contains(EXECUTOR_MAIN)).orElse(false))
          .forEach(out::add);
    }
    return out;
  }

  /** An executor's stderr (where it logs its tasks and llama.cpp its requests): work/worker-N/APP_ID/EXECUTOR_ID/stderr. */
  public Path executorLog(ProcessHandle executor) {
    List<String> args = List.of(executor.info().arguments().orElseThrow());
    String app = args.get(args.indexOf("--app-id") + 1);
    String id = args.get(args.indexOf("--executor-id") + 1);
    try (Stream<Path> workers = Files.list(dir.resolve("work"))) {
      return workers.map(w -> w.resolve(app).resolve(id).resolve("stderr")).filter(Files::exists).findFirst()
          .orElseThrow(() -> new IllegalStateException("no stderr for executor " + app + "/" + id));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every JVM of the cluster still alive: daemons and executors. */
  public List<ProcessHandle> liveProcesses() {
    List<ProcessHandle> out = new ArrayList<>();
    for (Process d : daemons) {
      d.toHandle().descendants().filter(ProcessHandle::isAlive).forEach(out::add);
      if (d.isAlive()) {
        out.add(d.toHandle());
      }
    }
    return out;
  }

  /** The last lines of every daemon's and executor's log, for assertion messages. */
  public String logs(int lines) {
    StringBuilder b = new StringBuilder();
    List<Path> files = new ArrayList<>(daemonLogs);
    try (Stream<Path> s = Files.exists(dir.resolve("work")) ? Files.walk(dir.resolve("work")) : Stream.empty()) {
      s.filter(p -> p.getFileName().toString().equals("stderr")).sorted().forEach(files::add);
    } catch (IOException e) {
      b.append("(").append(e).append(")\n");
    }
    for (Path f : files) {
      b.append("==== ").append(dir.relativize(f)).append('\n').append(tail(f, lines)).append('\n');
    }
    return b.toString();
  }

  @Override
  public void close() {
    killAll();
    // Keep the logs (logs/, work/**/stderr) for a look after a failure; drop the bulk: the jars each executor fetched
    // and the scratch space.
    try (Stream<Path> s = Files.exists(dir.resolve("work")) ? Files.walk(dir.resolve("work")) : Stream.empty()) {
      for (Path f : s.filter(p -> p.getFileName().toString().endsWith(".jar")).toList()) {
        Files.deleteIfExists(f);
      }
      deleteTree(dir.resolve("tmp"));
    } catch (IOException | UncheckedIOException e) {
      // best effort: the next run deletes the whole folder
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // shutting down: the hook runs or ran
    }
  }

  private void killAll() {
    // Executors first: a worker killed before its executors would leave them orphaned.
    List<ProcessHandle> all = new ArrayList<>();
    for (Process d : daemons) {
      all.addAll(d.toHandle().descendants().toList());
    }
    for (Process d : daemons) {
      all.add(d.toHandle());
    }
    all.forEach(ProcessHandle::destroyForcibly);
    for (ProcessHandle p : all) {
      try {
        p.onExit().get(30, TimeUnit.SECONDS);
      } catch (Exception e) {
        // reported by the caller's ps check
      }
    }
  }

  private void layout() throws IOException {
    Path target = Path.of("target").toAbsolutePath();
    Path jars = dir.resolve("home").resolve("jars");
    Files.createDirectories(jars);
    dependencies = Files.readString(target.resolve("classpath.txt")).trim();
    for (String j : dependencies.split(File.pathSeparator)) {
      Path src = Path.of(j);
      if (APP_DEPENDENCIES.matcher(j.replace(File.separatorChar, '/')).find()) {
        appDependencies.add(src.toAbsolutePath().toString());
        continue;
      }
      Path link = jars.resolve(src.getFileName().toString());
      if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS) && Files.isRegularFile(src)) {
        Files.createSymbolicLink(link, src.toAbsolutePath());
      }
    }
    Files.createDirectories(dir.resolve("logs"));
    Files.createDirectories(dir.resolve("tmp"));
    Files.createDirectories(appJar.getParent());
    jar(target.resolve("classes"), appJar);
    // Deploy daemons log at INFO (their registration lines are what start() waits for); Spark's chatter stays at WARN.
    Files.writeString(log4j, String.join("\n",
        "rootLogger.level = warn",
        "rootLogger.appenderRef.stderr.ref = console",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.target = SYSTEM_ERR",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n%ex",
        "logger.deploy.name = org.apache.spark.deploy",
        "logger.deploy.level = info",
        "logger.executor.name = org.apache.spark.executor",
        "logger.executor.level = info",
        "logger.parquet.name = org.apache.parquet",
        "logger.parquet.level = error",
        "logger.hadoop.name = org.apache.hadoop",
        "logger.hadoop.level = error",
        ""), StandardCharsets.UTF_8);
  }

  /** A jar of a classes folder: the application jar as spark-submit would ship it (without its dependencies). */
  static void jar(Path classes, Path out) throws IOException {
    Manifest m = new Manifest();
    m.getMainAttributes().put(java.util.jar.Attributes.Name.MANIFEST_VERSION, "1.0");
    try (OutputStream os = Files.newOutputStream(out); JarOutputStream jar = new JarOutputStream(os, m);
         Stream<Path> files = Files.walk(classes)) {
      for (Path f : files.sorted().toList()) {
        String name = classes.relativize(f).toString().replace(File.separatorChar, '/');
        if (name.isEmpty() || name.equals("META-INF/MANIFEST.MF")) {
          continue;
        }
        if (Files.isDirectory(f)) {
          jar.putNextEntry(new JarEntry(name + "/"));
        } else {
          jar.putNextEntry(new JarEntry(name));
          Files.copy(f, jar);
        }
        jar.closeEntry();
      }
    }
  }

  private void daemon(String name, List<String> args, Map<String, String> env) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-Xmx256m");
    cmd.addAll(jvmFlags());
    cmd.add("-Dlog4j2.configurationFile=" + log4j);
    cmd.add("-Djava.io.tmpdir=" + dir.resolve("tmp"));
    cmd.add("-Dspark.master.rest.enabled=false"); // its fixed port 6066 would clash with another cluster
    cmd.add("-cp");
    cmd.add(dir.resolve("home").resolve("jars") + File.separator + "*");
    cmd.addAll(args);
    Path log = dir.resolve("logs").resolve(name + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    pb.environment().remove("SPARK_CONF_DIR");
    pb.environment().putAll(env);
    daemons.add(pb.start());
    daemonLogs.add(log);
  }

  /** This JVM's module opens and JDK flags (Spark's --add-opens from the build), which every Spark JVM needs too. */
  static List<String> jvmFlags() {
    return ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("--add-opens") || a.startsWith("-Djdk.") || a.startsWith("-Dio.netty") || a.startsWith("--sun-misc")
            || a.startsWith("--enable-native") || a.startsWith("-Dai.djl"))
        .collect(Collectors.toList());
  }

  private void awaitPort(int port, long ms) {
    long deadline = System.currentTimeMillis() + ms;
    while (System.currentTimeMillis() < deadline) {
      checkDaemons();
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 500);
        return;
      } catch (IOException e) {
        sleep(200);
      }
    }
    throw new IllegalStateException("the master did not open port " + port + " in " + ms + " ms\n" + logs(40));
  }

  private void awaitWorkers(int n, long ms) {
    long deadline = System.currentTimeMillis() + ms;
    Path masterLog = daemonLogs.get(0);
    while (System.currentTimeMillis() < deadline) {
      checkDaemons();
      long registered = tail(masterLog, 10_000).lines().filter(l -> l.contains("Registering worker")).count();
      if (registered >= n) {
        return;
      }
      sleep(200);
    }
    throw new IllegalStateException(n + " workers did not register in " + ms + " ms\n" + logs(40));
  }

  private void checkDaemons() {
    for (int i = 0; i < daemons.size(); i++) {
      if (!daemons.get(i).isAlive()) {
        throw new IllegalStateException(daemonLogs.get(i).getFileName() + " exited with " + daemons.get(i).exitValue() + "\n" + logs(40));
      }
    }
  }

  static String tail(Path f, int lines) {
    try {
      List<String> all = Files.readAllLines(f, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(" + e + ")";
    }
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Files.walkFileTree(dir, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
