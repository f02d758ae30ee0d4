package dev.jgen.engine.llamanative;

import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineLostException;
import dev.jgen.engine.SamplingParams;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One running {@code jgen-llama-server} (native/jgen-llama-server.cpp) and the line protocol to it. Requests go to its
 * stdin as one line each; one reply line per request comes back on its stdout, read by a single daemon thread that
 * completes the matching future. The process does its own continuous batching, so this class only routes lines.
 *
 * <p>Nothing here waits without a bound, and no failure is lost: the model must load within the load timeout; a reply
 * {@code E} fails its request as a row error, {@code F} as a run error; when the process exits (killed, crashed) or its
 * output breaks the protocol (an unreadable reply, a reply to no id), every pending request fails at once with
 * {@link EngineLostException}, the process is killed, and the {@link #onLost} callbacks run (the engine leaves the
 * registry). A request sent after that fails at once the same way.
 */
public final class LlamaServerProcess implements AutoCloseable {

  /**
   * What the server generated for one request; {@code cachedTokens}: the prompt tokens whose KV cells it copied from its
   * prefix cache instead of decoding them.
   */
  public record Reply(String text, int promptTokens, int completionTokens, String finishReason, int[] tokenIds,
      int cachedTokens) {}

  private final Process process;
  private final OutputStream stdin;
  private final Map<String, Pending> pending = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final AtomicLong cancelledInServer = new AtomicLong();
  private final Deque<String> stderrTail = new ArrayDeque<>();
  private final List<Runnable> onLost = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final Map<String, String> ready;
  private volatile String deathReason;
  private volatile boolean closing;

  /** A request in flight: cancelling it also cancels the sequence in the server (its slot and KV cells are freed). */
  public final class Pending extends CompletableFuture<Reply> {
    private final String id;

    private Pending(String id) {
      this.id = id;
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean cancelled = super.cancel(mayInterruptIfRunning);
      if (cancelled) {
        send("C " + id + "\n");
      }
      return cancelled;
    }
  }

  /** Starts the server and waits until the model is loaded, at most {@code loadTimeout}. */
  public LlamaServerProcess(List<String> command, Duration loadTimeout) {
    ProcessBuilder pb = new ProcessBuilder(command);
    // OpenMP's wait policy is left to OpenMP (or to the executor's environment), as llama.cpp's users run it: ggml's
    // OpenMP build meets at an `omp barrier` after every graph node, and OMP_WAIT_POLICY=PASSIVE, which jgen set until
    // issue 28, put each worker to sleep in the kernel at every one of them (about a thousand a decode step):
    // llama-batched-bench on the 2-core EPYC decoded 9-11% fewer tokens/s with it (docs/nativecpu.md). libgomp's
    // default spins briefly and then sleeps, so the cores still go to Spark's threads between steps.
    try {
      process = pb.start();
    } catch (IOException e) {
      throw new EngineException("could not start " + command.get(0) + ": " + e.getMessage(), e);
    }
    stdin = process.getOutputStream();
    stderrDrain = new Thread(this::drainStderr, "jgen-llama-server-stderr");
    stderrDrain.setDaemon(true);
    stderrDrain.start();
    BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    // The first line (READY) is read on the reader thread too, so the load is waited for with a bound: a server stuck
    // loading (a model on a hung file system) fails the load instead of holding the task forever.
    CompletableFuture<String> first = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      String line;
      try {
        line = out.readLine();
      } catch (IOException e) {
        line = null;
      }
      first.complete(line);
      if (line != null && line.startsWith("READY")) {
        readReplies(out);
      }
    }, "jgen-llama-server-reader");
    reader.setDaemon(true);
    reader.start();
    String line;
    try {
      line = first.get(loadTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      process.destroyForcibly();
      waitQuietly();
      throw new EngineException("the native llama.cpp server did not load the model within " + loadTimeout.toSeconds()
          + " s (load_timeout_s); killed it" + (stderrText().isEmpty() ? "" : ": " + stderrText()));
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new EngineException("interrupted while the native llama.cpp server loaded the model", e);
    } catch (java.util.concurrent.ExecutionException e) {
      line = null;
    }
    if (line == null || !line.startsWith("READY")) {
      process.destroyForcibly();
      waitQuietly();
      throw new EngineException("the native llama.cpp server did not start (" + exitText() + "): " + stderrTextAfterExit());
    }
    ready = new HashMap<>();
    for (String kv : line.substring("READY".length()).trim().split(" ")) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        ready.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
  }

  /** Runs once when the server is lost (exited, killed, broke the protocol), after every pending request failed. */
  public void onLost(Runnable r) {
    onLost.add(r);
    if (deathReason != null) {
      r.run();
    }
  }

  /** Why the server is gone, or null while it serves. */
  public String lostReason() {
    return deathReason;
  }

  /** The server process's pid. */
  public long pid() {
    return process.pid();
  }

  /**
   * The server's READY fields: kv_size, parallel, threads, n_ctx_train, n_params, model_bytes, prefix_cache (1 or 0),
   * n_seq_max (parallel plus the ids kept for cached sequences), system_info.
   */
  public Map<String, String> ready() {
    return ready;
  }

  public String systemInfo() {
    return fromHex(ready.getOrDefault("system_info", "-"));
  }

  /** Queues one generation. Fails the future (not the caller) when the server refuses the row. */
  public Pending generate(int[] promptTokenIds, SamplingParams p) {
    return generate(promptTokenIds, p, null);
  }

  /**
   * What a request's sampling is constrained to: a GBNF grammar with a root rule, or a JSON schema the server converts
   * with llama.cpp's json_schema_to_grammar (once per schema text).
   */
  public record Constraint(char kind, String text) {
    public static Constraint grammar(String gbnf) {
      return new Constraint('g', gbnf);
    }

    public static Constraint jsonSchema(String schema) {
      return new Constraint('j', schema);
    }
  }

  /** As {@link #generate(int[], SamplingParams)}, sampling under a constraint (null: none). */
  public Pending generate(int[] promptTokenIds, SamplingParams p, Constraint constraint) {
    return generate(promptTokenIds, p, constraint, -1, 0);
  }

  /**
   * As {@link #generate(int[], SamplingParams, Constraint)}, with the server's {@code adapter}-th LoRA adapter (its
   * {@code --lora} in order, 0-based; -1 for the base model) at {@code adapterScale}.
   */
  public Pending generate(int[] promptTokenIds, SamplingParams p, Constraint constraint, int adapter, double adapterScale) {
    String id = Long.toString(ids.incrementAndGet());
    Pending f = new Pending(id);
    StringBuilder line = new StringBuilder(64 + promptTokenIds.length * 6);
    line.append("G ").append(id).append(' ').append(p.maxNewTokens()).append(' ').append((float) p.temperature()).append(' ')
        .append((float) p.topP()).append(' ').append(p.topK()).append(' ').append((float) p.repetitionPenalty()).append(' ')
        // llama.cpp seeds are 32-bit; the low 32 bits keep distinct small seeds distinct.
        .append(p.seed() & 0xffffffffL).append(' ').append(p.stop().size());
    for (String s : p.stop()) {
      line.append(' ').append(toHex(s));
    }
    line.append(' ').append(promptTokenIds.length);
    for (int t : promptTokenIds) {
      line.append(' ').append(t);
    }
    line.append(' ');
    if (constraint == null || constraint.text().isEmpty()) {
      line.append('-');
    } else {
      line.append(constraint.kind()).append(toHex(constraint.text()));
    }
    if (adapter >= 0) {
      line.append(' ').append(adapter).append(':').append((float) adapterScale);
    }
    line.append('\n');
    pending.put(id, f);
    String lost = deathReason; // set before pending requests are failed: a request put after that sees it here
    if (lost != null) {
      pending.remove(id);
      f.completeExceptionally(new EngineLostException(lost));
      return f;
    }
    send(line.toString());
    return f;
  }

  /** Sends one raw protocol line (tests feed what the JVM never writes); its reply completes the returned future. */
  Pending sendRaw(String id, String line) {
    Pending f = new Pending(id);
    pending.put(id, f);
    send(line.endsWith("\n") ? line : line + "\n");
    return f;
  }

  private void send(String line) {
    try {
      synchronized (stdin) {
        stdin.write(line.getBytes(StandardCharsets.UTF_8));
        stdin.flush();
      }
    } catch (IOException e) {
      if (!closing) {
        lose("the native llama.cpp server no longer reads its input (" + e.getMessage() + "; " + exitText() + ")");
      }
    }
  }

  private void readReplies(BufferedReader out) {
    String broken = null;
    try {
      String line;
      while (broken == null && (line = out.readLine()) != null) {
        String violation = dispatch(line);
        if (violation != null) {
          broken = "the native llama.cpp server broke the protocol (" + violation + "): '"
              + (line.length() > 120 ? line.substring(0, 120) + "..." : line) + "'";
        }
      }
    } catch (IOException | RuntimeException e) {
      broken = "the native llama.cpp server's output could not be read: " + e;
    }
    if (broken == null) {
      waitQuietly(); // its stdout closed: it exited or is about to; the exit code says how
      broken = "the native llama.cpp server exited (" + exitText() + ")" + (stderrText().isEmpty() ? "" : ": " + stderrText());
    }
    lose(broken);
  }

  /** Completes the request a reply line answers; returns what is wrong with the line, or null. */
  private String dispatch(String line) {
    String[] f = line.split(" ", -1);
    if (f.length < 2 || f[1].isEmpty()) {
      return "a reply without an id";
    }
    switch (f[0]) {
      case "D" -> {
        if (f.length != 8) {
          return "a D reply has 8 fields, this one " + f.length;
        }
        Reply r;
        try {
          r = new Reply(fromHex(f[5]), Integer.parseInt(f[2]), Integer.parseInt(f[3]), f[4], parseIds(f[6]),
              Integer.parseInt(f[7]));
        } catch (RuntimeException e) {
          return "an unreadable D reply: " + e.getMessage();
        }
        Pending p = pending.remove(f[1]);
        if (p != null) {
          p.complete(r);
        }
        return null;
      }
      case "E", "F" -> {
        if (f.length != 3) {
          return "an " + f[0] + " reply has 3 fields, this one " + f.length;
        }
        String msg;
        try {
          msg = fromHex(f[2]);
        } catch (RuntimeException e) {
          return "an unreadable " + f[0] + " reply: " + e.getMessage();
        }
        if (f[1].equals("?")) {
          return "it could not read a request's id: " + msg;
        }
        Pending p = pending.remove(f[1]);
        if (p != null) {
          p.completeExceptionally(f[0].equals("E") ? EngineException.rowError(msg)
              : new EngineException("the native llama.cpp server failed the request: " + msg));
        }
        return null;
      }
      case "X" -> {
        if (pending.remove(f[1]) != null) {
          cancelledInServer.incrementAndGet(); // the future is already cancelled on this side
        }
        return null;
      }
      default -> {
        return "an unknown reply kind '" + f[0] + "'";
      }
    }
  }

  /** The server is gone: it is killed, every pending request fails at once, and the callbacks run. Once. */
  private void lose(String reason) {
    synchronized (this) {
      if (deathReason != null) {
        return;
      }
      deathReason = closing ? "the native llama.cpp engine was closed" : reason;
    }
    process.destroyForcibly();
    EngineLostException lost = new EngineLostException(deathReason);
    for (String id : new ArrayList<>(pending.keySet())) {
      Pending p = pending.remove(id);
      if (p != null) {
        p.completeExceptionally(lost);
      }
    }
    for (Runnable r : onLost) {
      try {
        r.run();
      } catch (RuntimeException ignored) {
        // a callback's failure must not stop the others
      }
    }
  }

  private void drainStderr() {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        System.err.println("llama.cpp: " + line);
        synchronized (stderrTail) {
          stderrTail.addLast(line);
          while (stderrTail.size() > 20) {
            stderrTail.removeFirst();
          }
        }
      }
    } catch (IOException ignored) {
      // process gone
    }
  }

  /** The stderr drain, which ends when the process has exited and its last lines are read. */
  private Thread stderrDrain;

  /**
   * The stderr tail once the exited process's last lines are in: the reason a server gives for not starting (an adapter
   * that does not fit, a model that cannot load) is its last words, read on another thread (bounded wait).
   */
  private String stderrTextAfterExit() {
    try {
      stderrDrain.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return stderrText();
  }

  private String stderrText() {
    synchronized (stderrTail) {
      return String.join(" | ", stderrTail);
    }
  }

  private String exitText() {
    return process.isAlive() ? "still running" : "exit code " + process.exitValue();
  }

  private void waitQuietly() {
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Closes stdin (the server finishes and exits), then waits briefly before killing it. */
  @Override
  public void close() {
    closing = true;
    try {
      stdin.close();
    } catch (IOException ignored) {
      // already gone
    }
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** Requests not answered yet: a cancelled one counts until the server confirms it dropped it (its slot is free). */
  public int pending() {
    return pending.size();
  }

  /** Requests the server confirmed it dropped (queued or mid-generation) after a cancel. */
  public long cancelledInServer() {
    return cancelledInServer.get();
  }

  public boolean isAlive() {
    return deathReason == null && process.isAlive();
  }

  static String toHex(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length == 0) {
      return "-";
    }
    StringBuilder sb = new StringBuilder(b.length * 2);
    for (byte x : b) {
      sb.append(Character.forDigit((x >> 4) & 15, 16)).append(Character.forDigit(x & 15, 16));
    }
    return sb.toString();
  }

  static String fromHex(String h) {
    if (h.equals("-")) {
      return "";
    }
    if (h.length() % 2 != 0) {
      throw new IllegalArgumentException("odd-length hex");
    }
    byte[] b = new byte[h.length() / 2];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Integer.parseInt(h, 2 * i, 2 * i + 2, 16);
    }
    // A generation cut by max_new_tokens may end inside a multi-byte character: decoding replaces that tail with U+FFFD.
    return new String(b, StandardCharsets.UTF_8);
  }

  private static int[] parseIds(String s) {
    if (s.equals("-")) {
      return new int[0];
    }
    String[] parts = s.split(",");
    int[] r = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      r[i] = Integer.parseInt(parts[i]);
    }
    return r;
  }
}
