package dev.jgen.engine.djl;

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
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Launch mode: this executor's own DJL Serving processes, one per GPU group, started once (in parallel) when the engine
 * loads, reused by every partition, and stopped when the engine closes (at executor exit).
 *
 * <p>Each server gets {@code CUDA_VISIBLE_DEVICES=<its group>}, its own loopback port ({@code base_port} plus the
 * group's first GPU address, so executors sharing a host do not collide; a free port when that one is taken), and a
 * model directory with the {@code serving.properties} written here. The same settings go in the environment
 * ({@code OPTION_*}, {@code SERVING_*}), which DJL Serving reads too. The server is ready when {@code GET /ping} answers
 * 200 (its port opens only after the model has loaded); if it exits first or is not ready in {@code ready_timeout_s},
 * the engine load fails with the tail of the server's own log.
 */
final class ServerLauncher implements AutoCloseable {
  private static final int LOG_TAIL_LINES = 40;

  /** One launched server. */
  static final class Server {
    final int index;
    final List<String> gpus;
    final int port;
    final Path modelDir;
    final Path log;
    final Process process;
    final long startNanos;
    final Endpoint endpoint;

    Server(int index, List<String> gpus, int port, Path modelDir, Path log, Process process, long startNanos, Endpoint endpoint) {
      this.index = index;
      this.gpus = gpus;
      this.port = port;
      this.modelDir = modelDir;
      this.log = log;
      this.process = process;
      this.startNanos = startNanos;
      this.endpoint = endpoint;
    }

    long pid() {
      return process.pid();
    }
  }

  private final EngineSpec spec;
  private final int window;
  private final int perServer;
  private final boolean knownGroups;
  private final Path workDir;
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
  ServerLauncher(EngineSpec spec, int window, List<String> executorGpus, String[] taskGpus) {
    this.spec = spec;
    this.window = window;
    int tp = spec.intOption("tensor_parallel_degree", 0);
    int per = spec.intOption("gpus_per_server", 0);
    this.perServer = per > 0 ? per : tp > 0 ? tp : 1;
    try {
      this.workDir = Files.createTempDirectory("jgen-djl-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<List<String>> groups;
    if (executorGpus != null && !executorGpus.isEmpty()) {
      try {
        groups = GpuGroups.split(executorGpus, perServer);
      } catch (IllegalArgumentException e) {
        throw new EngineException("DJL Serving launch: " + e.getMessage());
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

  List<Endpoint> endpoints() {
    return endpoints;
  }

  List<Server> servers() {
    return List.copyOf(servers);
  }

  Path workDir() {
    return workDir;
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
    synchronized (this) { // executor's GPUs unknown: a task pinned to a new group starts that group's server
      e = find(taskGpus[0]);
      if (e == null) {
        startAll(List.of(GpuGroups.alignedGroup(taskGpus[0], perServer)));
        e = find(taskGpus[0]);
      }
      return e;
    }
  }

  private Endpoint find(String gpu) {
    for (Endpoint e : endpoints) {
      if (e.gpus.contains(gpu)) {
        return e;
      }
    }
    return null;
  }

  /** Starts one server per group, all at once, and waits until every one answers /ping (or fails them all). */
  private synchronized void startAll(List<List<String>> groups) {
    if (closed) {
      throw new EngineException("DJL Serving launch: the engine is closed");
    }
    List<Server> started = new ArrayList<>();
    List<CompletableFuture<Server>> starting = new ArrayList<>();
    java.util.concurrent.ExecutorService waiters = java.util.concurrent.Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "jgen-djl-launch");
      t.setDaemon(true);
      return t;
    });
    try {
      for (List<String> g : groups) {
        int index = servers.size();
        Server s = launch(index, g, port(g, index));
        servers.add(s);
        started.add(s);
        starting.add(CompletableFuture.supplyAsync(() -> awaitReady(s), waiters));
      }
      for (CompletableFuture<Server> f : starting) {
        f.join();
      }
      started.forEach(s -> endpoints.add(s.endpoint));
    } catch (RuntimeException e) {
      // the servers of this start go; the log folder stays, the message names it
      stop(started);
      servers.removeAll(started);
      Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      throw c instanceof EngineException ee ? ee : new EngineException("DJL Serving launch failed: " + c, c);
    } finally {
      waiters.shutdown();
    }
  }

  private int port(List<String> group, int index) {
    int base = spec.intOption("base_port", 8080);
    Integer first = group.isEmpty() ? null : GpuGroups.numeric(group.get(0));
    int preferred = base + (first != null ? first : index);
    if (preferred < 65536 && !usedPorts.contains(preferred) && free(preferred)) {
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
        throw new EngineException("DJL Serving launch: no free loopback port: " + e.getMessage(), e);
      }
    }
    throw new EngineException("DJL Serving launch: no free loopback port");
  }

  private static boolean free(int port) {
    try (ServerSocket s = new ServerSocket(port, 0, InetAddress.getLoopbackAddress())) {
      return s.isBound();
    } catch (IOException e) {
      return false;
    }
  }

  /** The settings of one server: serving.properties keys in the order written. */
  Map<String, String> servingProperties(List<String> group) {
    Map<String, String> p = new LinkedHashMap<>();
    int tp = spec.intOption("tensor_parallel_degree", 0);
    p.put("engine", "Python");
    p.put("option.model_id", spec.model());
    p.put("option.tensor_parallel_degree", String.valueOf(tp > 0 ? tp : Math.max(1, group.size())));
    p.put("option.max_rolling_batch_size", String.valueOf(spec.intOption("max_rolling_batch_size", 64)));
    putPositive(p, "option.max_num_tokens", spec.intOption("max_num_tokens", 0));
    putPositive(p, "option.max_input_len", spec.intOption("max_input_len", 0));
    putPositive(p, "option.max_output_len", spec.intOption("max_output_len", 0));
    putSet(p, "option.dtype", spec.option("dtype", null));
    putSet(p, "option.quantize", spec.option("quantize", null));
    p.put("option.model_loading_timeout", String.valueOf(spec.intOption("ready_timeout_s", 1800)));
    p.put("job_queue_size", String.valueOf(spec.intOption("job_queue_size", 1000)));
    return p;
  }

  private static void putPositive(Map<String, String> p, String key, int v) {
    if (v > 0) {
      p.put(key, String.valueOf(v));
    }
  }

  private static void putSet(Map<String, String> p, String key, String v) {
    if (v != null && !v.isBlank()) {
      p.put(key, v.trim());
    }
  }

  private Server launch(int index, List<String> group, int port) {
    Map<String, String> props = servingProperties(group);
    Path modelDir = workDir.resolve("model-" + index);
    Path log = workDir.resolve("server-" + index + ".log");
    String address = "http://127.0.0.1:" + port;
    try {
      Files.createDirectories(modelDir);
      StringBuilder sb = new StringBuilder("# written by jgen for one DJL Serving process (GPU group "
          + (group.isEmpty() ? "none" : String.join(",", group)) + ")\n");
      props.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
      Files.writeString(modelDir.resolve("serving.properties"), sb.toString(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new EngineException("DJL Serving launch: cannot write the model directory " + modelDir + ": " + e.getMessage(), e);
    }
    List<String> cmd = new ArrayList<>(List.of(spec.option("command", "djl-serving").trim().split("\\s+")));
    cmd.add("-m");
    cmd.add("jgen=file:" + modelDir.toAbsolutePath());
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Map<String, String> env = pb.environment();
    if (!group.isEmpty()) {
      env.put("CUDA_VISIBLE_DEVICES", String.join(",", group));
    }
    env.put("SERVING_INFERENCE_ADDRESS", address);
    env.put("SERVING_MANAGEMENT_ADDRESS", address); // else every server would also bind the default 8080
    env.put("SERVING_JOB_QUEUE_SIZE", props.get("job_queue_size"));
    props.forEach((k, v) -> {
      if (k.startsWith("option.")) {
        env.put("OPTION_" + k.substring("option.".length()).toUpperCase(Locale.ROOT), v);
      }
    });
    long start = System.nanoTime();
    try {
      Process process = pb.start();
      return new Server(index, List.copyOf(group), port, modelDir, log, process, start,
          new Endpoint(URI.create(address), group, window));
    } catch (IOException e) {
      throw new EngineException("DJL Serving launch: cannot start '" + String.join(" ", cmd) + "': " + e.getMessage(), e);
    }
  }

  private Server awaitReady(Server s) {
    long deadline = s.startNanos + TimeUnit.SECONDS.toNanos(spec.intOption("ready_timeout_s", 1800));
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port + "/ping"))
        .timeout(Duration.ofSeconds(5)).GET().build();
    while (true) {
      if (!s.process.isAlive()) {
        throw new EngineException("DJL Serving (" + describe(s) + ") exited with code " + s.process.exitValue()
            + " before it was ready; the last lines of its log " + s.log + ":\n" + tail(s.log));
      }
      try {
        HttpResponse<String> r = ping.send(req, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return s;
        }
      } catch (IOException e) {
        // not listening yet: the port opens once the model has loaded
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new EngineException("interrupted while waiting for DJL Serving (" + describe(s) + ")", e);
      }
      if (System.nanoTime() > deadline) {
        stop(List.of(s));
        throw new EngineException("DJL Serving (" + describe(s) + ") was not ready within "
            + spec.intOption("ready_timeout_s", 1800) + " s (engine.djl.ready_timeout_s); the last lines of its log "
            + s.log + ":\n" + tail(s.log));
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new EngineException("interrupted while waiting for DJL Serving (" + describe(s) + ")", e);
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
      h.descendants().forEach(all::add); // DJL Serving's Python workers
    }
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
