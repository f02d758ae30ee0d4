package dev.jgen.engine.serving;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineSpec;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.spark.SparkEnv;

/**
 * Launch mode, for every server kind: this executor's own server processes, one per GPU group, started once (in
 * parallel) when the engine loads, reused by every partition, and stopped when the engine closes (at executor exit).
 * What differs between kinds (command, files, environment, readiness path) is the {@link LaunchRecipe}'s.
 *
 * <p>Each server gets {@code CUDA_VISIBLE_DEVICES=<its group>} and its own loopback port ({@code base_port} plus the
 * group's first GPU address, so executors sharing a host do not collide; a free port when that one is taken, and a new
 * one if the server still finds it taken). It is ready when {@code GET <readiness path>} answers 200; if it exits
 * first or is not ready in {@code ready_timeout_s}, the engine load fails with the tail of the server's own log.
 *
 * <p>No orphaned GPU servers (issue 12): every server runs under a small watchdog (a bash script, so it works for any
 * server command) that starts it in a session of its own and stops its whole process group when this JVM is gone, even
 * after SIGKILL, when no shutdown hook runs. And every server is recorded (application id, this JVM's pid, the
 * watchdog's and server's pids with their start times, port, GPU group) in a file under a per-host state directory;
 * before starting its own, an executor stops the servers recorded by dead JVMs of the same Spark application, so the
 * next executor on a host gets the GPUs (and ports) back even when a watchdog could not run.
 */
final class ServerLauncher implements AutoCloseable {
  private static final int LOG_TAIL_LINES = 40;
  private static final int PORT_ATTEMPTS = 3;
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The per-host folder of server records; option {@code state_dir} overrides. */
  static final String STATE_DIR_PROPERTY = "jgen.serving.state_dir";

  /** One launched server. */
  static final class Server {
    final int index;
    final List<String> gpus;
    final int port;
    final Path dir;
    final Path log;
    /** The watchdog, whose child is the server. */
    final Process process;
    final long startNanos;
    final Endpoint endpoint;
    final Path record;

    Server(int index, List<String> gpus, int port, Path dir, Path log, Process process, long startNanos, Endpoint endpoint,
        Path record) {
      this.index = index;
      this.gpus = gpus;
      this.port = port;
      this.dir = dir;
      this.log = log;
      this.process = process;
      this.startNanos = startNanos;
      this.endpoint = endpoint;
      this.record = record;
    }

    /** The watchdog's pid. */
    long pid() {
      return process.pid();
    }

    /** The server's own pid, once the watchdog has started it (-1 before). */
    long serverPid() {
      try {
        return Long.parseLong(Files.readString(dir.resolve("server.pid")).trim());
      } catch (IOException | NumberFormatException e) {
        return -1;
      }
    }
  }

  private final EngineSpec spec;
  private final LaunchRecipe recipe;
  private final int window;
  private final int perServer;
  private final boolean knownGroups;
  private final Path workDir;
  private final Path stateDir;
  private final String appId;
  private final Path watchdog;
  private final List<Server> servers = new CopyOnWriteArrayList<>();
  private final List<Endpoint> endpoints = new CopyOnWriteArrayList<>();
  private final Set<Integer> usedPorts = new HashSet<>();
  private final HttpClient ping = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();
  private volatile boolean closed;

  /**
   * @param executorGpus the executor's GPU addresses, or null when unknown
   * @param taskGpus the loading task's addresses (used when the executor's set is unknown)
   */
  ServerLauncher(EngineSpec spec, LaunchRecipe recipe, int window, List<String> executorGpus, String[] taskGpus) {
    this.spec = spec;
    this.recipe = recipe;
    this.window = window;
    this.perServer = Math.max(1, recipe.gpusPerServer());
    this.appId = appId(spec);
    try {
      this.workDir = Files.createTempDirectory("jgen-serving-");
      this.stateDir = stateDir(spec);
      Files.createDirectories(stateDir);
      this.watchdog = writeWatchdog(workDir);
    } catch (IOException e) {
      throw new EngineException(recipe.serverName() + " launch: cannot prepare its folders: " + e.getMessage(), e);
    }
    stopOrphans();
    List<List<String>> groups;
    if (executorGpus != null && !executorGpus.isEmpty()) {
      try {
        groups = GpuGroups.split(executorGpus, perServer);
      } catch (IllegalArgumentException e) {
        throw new EngineException(recipe.serverName() + " launch: " + e.getMessage());
      }
      knownGroups = true;
    } else if (taskGpus.length > 0) {
      groups = List.of(GpuGroups.alignedGroup(taskGpus[0], perServer));
      knownGroups = false;
    } else {
      groups = List.of(List.of()); // no GPU scheduling at all: one server, CUDA_VISIBLE_DEVICES left as it is
      knownGroups = true;
    }
    startAll(groups);
  }

  /** Option {@code app_id}, else the Spark application of this executor, else {@code no-spark-app}. */
  static String appId(EngineSpec spec) {
    String explicit = spec.option("app_id", null);
    if (explicit != null && !explicit.isBlank()) {
      return explicit;
    }
    try {
      SparkEnv env = SparkEnv.get();
      if (env != null && env.conf().contains("spark.app.id")) {
        return env.conf().get("spark.app.id");
      }
    } catch (RuntimeException | LinkageError e) {
      // not in Spark
    }
    return "no-spark-app";
  }

  static Path stateDir(EngineSpec spec) {
    String dir = spec.option("state_dir", System.getProperty(STATE_DIR_PROPERTY, ""));
    if (dir != null && !dir.isBlank()) {
      return Path.of(dir);
    }
    return Path.of(System.getProperty("java.io.tmpdir"), "jgen-servers-" + System.getProperty("user.name", "user"));
  }

  List<Endpoint> endpoints() {
    return endpoints;
  }

  List<Server> servers() {
    return List.copyOf(servers);
  }

  Path workDir() {
    return workDir;
  }

  String appIdInUse() {
    return appId;
  }

  /** The server whose group holds the task's first GPU; null for a task without GPUs (the engine balances). */
  Endpoint endpointFor(String[] taskGpus) {
    if (taskGpus.length == 0) {
      return null;
    }
    Endpoint e = find(taskGpus[0]);
    if (e != null || knownGroups) {
      return e;
    }
    // The executor's GPUs are unknown and a task is pinned to a group without a server: that group's server starts in
    // the background, once, and the task's rows go to the servers already up meanwhile (null: the router balances).
    // submit() never waits for a server to load; a start that fails is reported once and not tried again.
    List<String> group = GpuGroups.alignedGroup(taskGpus[0], perServer);
    lateStarts.computeIfAbsent(String.join(",", group), k -> CompletableFuture.runAsync(() -> startAll(List.of(group)), r -> {
      Thread t = new Thread(r, "jgen-serving-late-launch");
      t.setDaemon(true);
      t.start();
    }).exceptionally(t -> {
      Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
      System.err.println("jgen: the " + recipe.serverName() + " server of GPU group " + k + " did not start; its tasks use the "
          + "other servers, and it is not started again: " + c.getMessage());
      return null;
    }));
    return null;
  }

  /** Servers of groups first seen in a task (executor GPUs unknown), started in the background: done or failed. */
  private final java.util.Map<String, CompletableFuture<Void>> lateStarts = new java.util.concurrent.ConcurrentHashMap<>();

  /** The background starts of groups first seen in a task (tests wait for them). */
  java.util.Collection<CompletableFuture<Void>> lateStarts() {
    return lateStarts.values();
  }

  private Endpoint find(String gpu) {
    for (Endpoint e : endpoints) {
      if (e.gpus.contains(gpu)) {
        return e;
      }
    }
    return null;
  }

  /** Starts one server per group, all at once, and waits until every one is ready (or fails them all). */
  private synchronized void startAll(List<List<String>> groups) {
    if (closed) {
      throw new EngineException(recipe.serverName() + " launch: the engine is closed");
    }
    int before = servers.size();
    List<CompletableFuture<Server>> starting = new ArrayList<>();
    ExecutorService waiters = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "jgen-serving-launch");
      t.setDaemon(true);
      return t;
    });
    try {
      int index = before;
      for (List<String> g : groups) {
        int i = index++;
        starting.add(CompletableFuture.supplyAsync(() -> startOne(i, g), waiters));
      }
      List<Server> ready = new ArrayList<>();
      RuntimeException first = null;
      for (CompletableFuture<Server> f : starting) {
        try {
          ready.add(f.join());
        } catch (RuntimeException e) {
          first = first == null ? e : first;
        }
      }
      if (first != null) {
        throw first;
      }
      ready.sort(Comparator.comparingInt(s -> s.index));
      ready.forEach(s -> endpoints.add(s.endpoint));
    } catch (RuntimeException e) {
      // the servers of this start go; the log folder stays, the message names it
      List<Server> started = new ArrayList<>(servers.subList(before, servers.size()));
      stop(started);
      servers.removeAll(started);
      Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      throw c instanceof EngineException ee ? ee : new EngineException(recipe.serverName() + " launch failed: " + c, c);
    } finally {
      waiters.shutdown();
    }
  }

  /** Thrown when a server died because its port was taken between our check and its bind. */
  private static final class PortTaken extends RuntimeException {
    PortTaken(String m) {
      super(m);
    }
  }

  private Server startOne(int index, List<String> group) {
    for (int attempt = 1; ; attempt++) {
      Server s = launch(index, group, port(group, index, attempt > 1));
      servers.add(s);
      try {
        return awaitReady(s);
      } catch (PortTaken e) {
        // Another process bound the port after we found it free (a loaded host): a new port, a new start.
        stop(List.of(s));
        servers.remove(s);
        if (attempt >= PORT_ATTEMPTS) {
          throw new EngineException(e.getMessage());
        }
      }
    }
  }

  private int port(List<String> group, int index, boolean avoidPreferred) {
    synchronized (usedPorts) {
      int base = spec.intOption("base_port", 8080);
      Integer first = group.isEmpty() ? null : GpuGroups.numeric(group.get(0));
      int preferred = base + (first != null ? first : index);
      if (!avoidPreferred && base > 0 && preferred < 65536 && !usedPorts.contains(preferred) && free(preferred)) {
        usedPorts.add(preferred);
        return preferred;
      }
      for (int tries = 0; tries < 20; tries++) {
        try (ServerSocket s = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
          int p = s.getLocalPort();
          if (usedPorts.add(p)) {
            return p;
          }
        } catch (IOException e) {
          throw new EngineException(recipe.serverName() + " launch: no free loopback port: " + e.getMessage(), e);
        }
      }
      throw new EngineException(recipe.serverName() + " launch: no free loopback port");
    }
  }

  private static boolean free(int port) {
    try (ServerSocket s = new ServerSocket(port, 0, InetAddress.getLoopbackAddress())) {
      return s.isBound();
    } catch (IOException e) {
      return false;
    }
  }

  private Server launch(int index, List<String> group, int port) {
    Path dir = workDir.resolve("server-" + index + "-" + port);
    Path log = workDir.resolve("server-" + index + "-" + port + ".log");
    List<String> serverCmd;
    try {
      Files.createDirectories(dir);
      serverCmd = recipe.prepare(index, group, port, dir);
    } catch (IOException e) {
      throw new EngineException(recipe.serverName() + " launch: cannot write the server's folder " + dir + ": " + e.getMessage(), e);
    }
    List<String> cmd = new ArrayList<>();
    cmd.add("bash");
    cmd.add(watchdog.toString());
    // "-": no parent watch (option parent_watchdog=false, for tests of the state-dir cleanup alone)
    cmd.add(Boolean.parseBoolean(spec.option("parent_watchdog", "true")) ? String.valueOf(ProcessHandle.current().pid()) : "-");
    cmd.add(dir.resolve("server.pid").toString());
    cmd.add(String.valueOf(spec.intOption("stop_grace_s", 10)));
    cmd.addAll(serverCmd);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Map<String, String> env = pb.environment();
    if (!group.isEmpty()) {
      env.put("CUDA_VISIBLE_DEVICES", String.join(",", group));
    }
    recipe.environment(env, group, port, dir);
    long start = System.nanoTime();
    Process process;
    try {
      process = pb.start();
    } catch (IOException e) {
      throw new EngineException(recipe.serverName() + " launch: cannot start '" + String.join(" ", serverCmd) + "': " + e.getMessage(), e);
    }
    Path record = stateDir.resolve(safe(appId) + "." + ProcessHandle.current().pid() + "." + index + "-" + port + ".json");
    Server s = new Server(index, List.copyOf(group), port, dir, log, process, start,
        new Endpoint(URI.create("http://127.0.0.1:" + port), group, window), record);
    writeRecord(s);
    return s;
  }

  private static String safe(String s) {
    return s.replaceAll("[^A-Za-z0-9_-]", "_");
  }

  // ---- the record of what runs, and the orphans of dead executors ----

  private void writeRecord(Server s) {
    ObjectNode o = JSON.createObjectNode();
    o.put("kind", recipe.serverName());
    o.put("app_id", appId);
    o.put("owner_pid", ProcessHandle.current().pid());
    o.put("owner_start", startOf(ProcessHandle.current()));
    o.put("watchdog_pid", s.pid());
    o.put("watchdog_start", startOf(s.process.toHandle()));
    o.put("server_pid_file", s.dir.resolve("server.pid").toString());
    o.put("port", s.port);
    o.put("gpus", String.join(",", s.gpus));
    o.put("log", s.log.toString());
    try {
      Path tmp = Files.createTempFile(stateDir, ".record", ".tmp");
      Files.writeString(tmp, o.toPrettyString(), StandardCharsets.UTF_8);
      Files.move(tmp, s.record, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      // the watchdog still guards it; the next executor just cannot see it
      System.err.println("jgen: cannot record " + recipe.serverName() + " server in " + stateDir + ": " + e.getMessage());
    }
  }

  private static long startOf(ProcessHandle h) {
    return h.info().startInstant().map(Instant::toEpochMilli).orElse(-1L);
  }

  /** A live process with this pid started at the recorded time (guards against a recycled pid). */
  private static Optional<ProcessHandle> same(long pid, long start) {
    if (pid <= 0) {
      return Optional.empty();
    }
    return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
        .filter(h -> start <= 0 || startOf(h) <= 0 || Math.abs(startOf(h) - start) < 2000);
  }

  /**
   * Stops the servers recorded by JVMs of this application that are gone (an executor killed with SIGKILL), and forgets
   * records whose processes have all ended. Records of live JVMs (another executor on this host) are left alone.
   *
   * @return the number of processes stopped
   */
  int stopOrphans() {
    List<ProcessHandle> orphans = new ArrayList<>();
    List<Path> forget = new ArrayList<>();
    try (Stream<Path> files = Files.list(stateDir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".json")).toList()) {
        JsonNode r;
        try {
          r = JSON.readTree(f.toFile());
        } catch (IOException e) {
          continue; // being written, or not ours
        }
        if (same(r.path("owner_pid").asLong(), r.path("owner_start").asLong()).isPresent()) {
          continue; // its executor lives
        }
        Optional<ProcessHandle> watchdogProcess = same(r.path("watchdog_pid").asLong(), r.path("watchdog_start").asLong());
        long serverPid = -1;
        try {
          serverPid = Long.parseLong(Files.readString(Path.of(r.path("server_pid_file").asText("/nonexistent"))).trim());
        } catch (IOException | NumberFormatException | java.nio.file.InvalidPathException e) {
          // never started, or its folder is gone
        }
        Optional<ProcessHandle> server = serverPid > 0 ? ProcessHandle.of(serverPid).filter(ProcessHandle::isAlive) : Optional.empty();
        if (watchdogProcess.isEmpty() && server.isEmpty()) {
          forget.add(f);
        } else if (appId.equals(r.path("app_id").asText())) {
          watchdogProcess.ifPresent(orphans::add);
          server.ifPresent(h -> {
            orphans.add(h);
            h.descendants().forEach(orphans::add);
          });
          watchdogProcess.ifPresent(h -> h.descendants().forEach(orphans::add));
          forget.add(f);
          System.err.println("jgen: stopping a " + r.path("kind").asText("server") + " left by dead executor JVM "
              + r.path("owner_pid").asLong() + " of " + appId + " (port " + r.path("port").asInt() + ", GPU "
              + r.path("gpus").asText() + ")");
        }
      }
    } catch (IOException e) {
      return 0;
    }
    stopHandles(orphans);
    for (Path f : forget) {
      try {
        Files.deleteIfExists(f);
      } catch (IOException ignored) {
        // another executor forgot it first
      }
    }
    return orphans.size();
  }

  /**
   * The watchdog: starts the server in a session of its own (so its pid is its process group's id and the whole tree
   * can be signalled), writes the server's pid, and polls the owner JVM every second. When the owner is gone it stops
   * the server (SIGTERM to the group, SIGKILL after the grace period); when the server exits, it exits with its status.
   * SIGTERM to the watchdog (the engine closing) stops the server the same way.
   */
  private static Path writeWatchdog(Path dir) throws IOException {
    String script = """
        #!/usr/bin/env bash
        # jgen server watchdog: runs a server and stops it when the JVM that launched it is gone.
        # usage: jgen-watchdog.sh <owner pid> <server pid file> <grace seconds> <server command...>
        owner=$1; pidfile=$2; grace=$3; shift 3
        if command -v setsid >/dev/null 2>&1; then setsid "$@" & else "$@" & fi
        child=$!
        echo "$child" > "$pidfile"
        stop_server() {
          kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null
          for _ in $(seq $((grace * 10))); do
            kill -0 "$child" 2>/dev/null || break
            sleep 0.1
          done
          kill -KILL -- "-$child" 2>/dev/null; kill -KILL "$child" 2>/dev/null
          wait "$child" 2>/dev/null
        }
        trap 'stop_server; exit 143' TERM INT HUP
        while kill -0 "$child" 2>/dev/null; do
          if [ "$owner" != - ] && ! kill -0 "$owner" 2>/dev/null; then
            echo "jgen watchdog: the JVM $owner that launched this server is gone; stopping the server (pid $child)"
            stop_server
            exit 0
          fi
          sleep 1 & wait $!
        done
        wait "$child"
        exit $?
        """;
    Path p = dir.resolve("jgen-watchdog.sh");
    Files.writeString(p, script, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    return p;
  }

  // ---- readiness ----

  private Server awaitReady(Server s) {
    int timeout = spec.intOption("ready_timeout_s", 1800);
    long deadline = s.startNanos + TimeUnit.SECONDS.toNanos(timeout);
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port + recipe.readinessPath()))
        .timeout(Duration.ofSeconds(5)).GET().build();
    while (true) {
      if (!s.process.isAlive()) {
        String tail = tail(s.log);
        String msg = recipe.serverName() + " (" + describe(s) + ") exited with code " + s.process.exitValue()
            + " before it was ready; the last lines of its log " + s.log + ":\n" + tail;
        if (tail.contains("Address already in use") || tail.contains("BindException") || tail.contains("Failed to bind")) {
          throw new PortTaken(msg);
        }
        throw new EngineException(msg);
      }
      try {
        HttpResponse<String> r = ping.send(req, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return s;
        }
      } catch (IOException e) {
        // not listening yet: DJL Serving opens its port only after the model has loaded
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new EngineException("interrupted while waiting for " + recipe.serverName() + " (" + describe(s) + ")", e);
      }
      if (System.nanoTime() > deadline) {
        stop(List.of(s));
        throw new EngineException(recipe.serverName() + " (" + describe(s) + ") was not ready within " + timeout + " s ("
            + recipe.keyPrefix() + "ready_timeout_s); the last lines of its log " + s.log + ":\n" + tail(s.log));
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new EngineException("interrupted while waiting for " + recipe.serverName() + " (" + describe(s) + ")", e);
      }
    }
  }

  private static String describe(Server s) {
    return "port " + s.port + ", GPU " + (s.gpus.isEmpty() ? "unpinned" : String.join(",", s.gpus));
  }

  /** The last lines of a log, read from its end (a server log can be large). */
  static String tail(Path log) {
    try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
      long len = f.length();
      int n = (int) Math.min(len, 16 * 1024);
      byte[] buf = new byte[n];
      f.seek(len - n);
      f.readFully(buf);
      List<String> lines = new String(buf, StandardCharsets.UTF_8).lines().toList();
      List<String> last = lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size());
      return last.isEmpty() ? "(the log is empty)" : String.join("\n", last);
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  // ---- stopping ----

  /** Stops every server: SIGTERM to each process and its children, then SIGKILL after {@code stop_grace_s}. */
  @Override
  public synchronized void close() {
    closed = true;
    stop(servers);
    try (Stream<Path> files = Files.walk(workDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException ignored) {
      // a temp folder left behind
    }
  }

  private void stop(List<Server> list) {
    List<ProcessHandle> all = new ArrayList<>();
    for (Server s : list) {
      ProcessHandle h = s.process.toHandle();
      all.add(h);
      h.descendants().forEach(all::add); // the server and its workers (DJL's Python workers, TRT-LLM's MPI ranks)
    }
    stopHandles(all);
    for (Server s : list) {
      try {
        Files.deleteIfExists(s.record);
      } catch (IOException ignored) {
        // the next executor forgets it
      }
    }
  }

  private void stopHandles(List<ProcessHandle> all) {
    all.forEach(ProcessHandle::destroy);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(spec.intOption("stop_grace_s", 10));
    for (ProcessHandle h : all) {
      long left = deadline - System.nanoTime();
      try {
        h.onExit().get(Math.max(0, left), TimeUnit.NANOSECONDS);
      } catch (Exception e) {
        h.destroyForcibly();
      }
    }
    for (ProcessHandle h : all) {
      try {
        h.onExit().get(5, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // reported as still alive by whoever checks
      }
    }
  }
}
