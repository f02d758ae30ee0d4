package dev.jgen.engine.serving;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.EngineSpec;
import dev.jgen.structured.ServerEncodings;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * An inference server over HTTP, one server per GPU group: {@code engine.kind=djl-serving} (DJL Serving LMI) and
 * {@code engine.kind=trtllm-serve} (TensorRT-LLM's own server). Built from parts every kind shares: a
 * {@link WireProtocol} (DJL {@code /invocations} or OpenAI {@code /v1/completions}), a {@link Router} over the servers
 * with an in-flight window per server ({@link Endpoint}), a {@link RetryPolicy}, and in launch mode a
 * {@link ServerLauncher} with the kind's {@link LaunchRecipe}.
 *
 * <p>One request per row; the server batches in flight. {@link #submit} never blocks: a request waits in its server's
 * queue until the window has room. A row that still fails after its retries becomes an error row carrying the server's
 * status and message. Cancelling the returned future takes a queued request out of the queue and aborts an in-flight
 * HTTP exchange (a killed Spark task's rows stop occupying the window).
 */
final class ServingEngine implements Engine {
  /** Threads for the HTTP client's steps and the answers (see the constructor). */
  private static final int CALLBACK_THREADS = 2;

  private final EngineSpec spec;
  private final ServerKind kind;
  private final WireProtocol wire;
  private final RetryPolicy retry;
  private final String bosText;
  private final Duration requestTimeout;
  private final int windowPerServer;
  private final Router router;
  private final HttpClient http;
  private final ExecutorService callbacks;
  private final ServerMetrics metrics;
  private final EngineInfo info;
  private volatile boolean closed;
  /** Leading prompt tokens whose hash picks a request's server when its task is not pinned (0: load alone). */
  private final int prefixTokens;
  private volatile Map<String, Double> finalMetrics;

  ServingEngine(EngineSpec spec, ServerKind kind) {
    this(spec, kind, null);
  }

  /**
   * @param gpuAddresses the executor's GPU addresses for launch mode, or null to discover them ({@link GpuGroups})
   */
  ServingEngine(EngineSpec spec, ServerKind kind, List<String> gpuAddresses) {
    long start = System.nanoTime();
    this.spec = spec;
    this.kind = kind;
    String api = kind.forcedApi() != null ? kind.forcedApi() : spec.option("api", kind.defaultApi());
    this.wire = WireProtocol.of(api, kind.keyPrefix());
    // Which field carries an output constraint depends on the software behind the wire (docs/structured.md).
    this.constraintField = kind == ServerKind.TRTLLM ? ServerEncodings.TRTLLM_SERVE
        : ServerEncodings.serverKind(api, spec.option("server", "lmi-trtllm"));
    this.retry = RetryPolicy.of(spec);
    this.bosText = spec.option("bos_text", "");
    this.requestTimeout = Duration.ofSeconds(spec.intOption("request_timeout_s", 300));
    this.prefixTokens = spec.intOption("prefix_route_tokens", 0);
    int window = spec.intOption("window", 0);
    this.windowPerServer = window > 0 ? window : defaultWindow(Math.max(1, spec.intOption(kind.batchOption(), kind.defaultBatch())));
    AtomicInteger n = new AtomicInteger();
    // Two threads, always the same ones, for the HTTP client's own steps and for reading answers (neither ever
    // blocks). A cached pool hands every step to whichever thread is idle and starts new ones in bursts: with two
    // 128-slot servers stepping every millisecond, answers backed up for hundreds of milliseconds at a time while the
    // servers emptied (the serving bench at 6,000 rows, alternated in one session: 0.918 and 0.941 busy with a cached
    // pool, 0.954 and 0.955 with these two threads).
    this.callbacks = Executors.newFixedThreadPool(CALLBACK_THREADS, r -> {
      Thread t = new Thread(r, "jgen-serving-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10))
        .executor(callbacks)
        .build();
    String mode = spec.option("mode", "endpoint");
    try {
      switch (mode) {
        case "endpoint" -> {
          List<Endpoint> list = new ArrayList<>();
          for (String u : spec.option("endpoints", "").split(",")) {
            if (!u.isBlank()) {
              list.add(new Endpoint(baseUri(u.trim(), kind.keyPrefix()), List.of(), windowPerServer));
            }
          }
          if (list.isEmpty()) {
            throw new EngineException(kind.keyPrefix() + "endpoints: no server URL given (endpoint mode)");
          }
          this.router = new Router(list);
        }
        case "launch" -> {
          List<String> gpus = gpuAddresses != null ? gpuAddresses : GpuGroups.executorGpus(spec);
          this.router = new Router(new ServerLauncher(spec, kind.recipe().apply(spec), windowPerServer, gpus, taskGpus()));
        }
        default -> throw new EngineException(kind.keyPrefix() + "mode: unknown mode '" + mode + "' (endpoint | launch)");
      }
    } catch (RuntimeException e) {
      callbacks.shutdownNow();
      throw e;
    }
    this.metrics = new ServerMetrics(http, spec.option("metrics_path", kind.metricsPath()));
    long loadMillis = (System.nanoTime() - start) / 1_000_000;
    String version = kind.serverName() + " " + wire.path() + " (" + mode + " mode)";
    this.info = new EngineInfo(kind.kind(), version, UUID.randomUUID().toString(), loadMillis);
  }

  /**
   * The in-flight window per server when {@code window} is not set: the server's batch plus a quarter. The extra
   * requests wait in the server's own job queue (DJL Serving's {@code job_queue_size}, 1,000 by default; trtllm-serve's
   * executor queue), so a slot freed by a finished sequence is refilled at the server's next step instead of after the
   * answer's round trip through this client (read, parse, release, send). With the window equal to the batch, two
   * 128-slot servers stepping every millisecond averaged 110 of 128 slots busy before the input ran out.
   */
  static int defaultWindow(int batch) {
    return batch + Math.max(1, batch / 4);
  }

  static URI baseUri(String url, String keyPrefix) {
    String u = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    try {
      URI uri = URI.create(u);
      if (uri.getScheme() == null || uri.getHost() == null) {
        throw new IllegalArgumentException("no scheme or host");
      }
      return uri;
    } catch (IllegalArgumentException e) {
      throw new EngineException(keyPrefix + "endpoints: not a server URL: '" + url + "' (" + e.getMessage() + ")");
    }
  }

  @Override
  public EngineInfo info() {
    return info;
  }

  /** The total window: requests worth having in flight over all servers of this executor. */
  @Override
  public int capacity() {
    return windowPerServer * Math.max(1, servers().size());
  }

  List<Endpoint> servers() {
    return router.servers();
  }

  ServerLauncher launcher() {
    return router.launcher();
  }

  Endpoint route(String[] gpus) {
    return router.route(gpus);
  }

  WireProtocol wire() {
    return wire;
  }

  private final String constraintField;

  /** The request's body on this server's wire, its output constraint (if any) in the field the server reads. */
  private com.fasterxml.jackson.databind.node.ObjectNode body(CompletionRequest request) {
    com.fasterxml.jackson.databind.node.ObjectNode body = wire.body(request, serverPrompt(request.promptText()), spec.model());
    if (request.constraint() != null) {
      ServerEncodings.addToServerBody(body, constraintField, request.constraint());
    }
    if (request.adapter() != null) {
      if (kind == ServerKind.TRTLLM) {
        // trtllm-serve's OpenAI extension (TensorRT-LLM examples/openai_completion_client_for_lora.py).
        com.fasterxml.jackson.databind.node.ObjectNode lora = body.putObject("lora_request");
        lora.put("lora_name", request.adapter().name());
        lora.put("lora_int_id", request.adapter().id());
        lora.put("lora_path", request.adapter().path());
      } else {
        // DJL Serving: the adapter by its registered name in the request body (adapters.md, "Adapters parameter").
        body.put("adapters", request.adapter().name());
      }
    }
    return body;
  }

  /** The body one request is sent with. */
  com.fasterxml.jackson.databind.node.ObjectNode requestBody(CompletionRequest request) {
    return body(request);
  }

  @Override
  public CompletableFuture<Completion> submit(CompletionRequest request) {
    CompletableFuture<Completion> result = new CompletableFuture<>();
    if (closed) {
      result.completeExceptionally(new EngineException("the " + kind.serverName() + " engine is closed"));
      return result;
    }
    Endpoint endpoint;
    byte[] body;
    try {
      endpoint = router.route(taskGpus(), dev.jgen.engine.PromptPrefix.hash(request.promptTokenIds(), prefixTokens,
          request.adapter() == null ? null : request.adapter().name())); // on the task thread: TaskContext is thread-local
      body = WireProtocol.JSON.writeValueAsBytes(body(request));
    } catch (IOException | RuntimeException e) {
      result.completeExceptionally(e instanceof EngineException ? e : new EngineException(e.getMessage(), e));
      return result;
    }
    Call call = new Call(endpoint, request, body, result);
    TaskContext tc = TaskContext.get();
    call.enqueue(tc == null ? 0 : tc.taskAttemptId());
    result.whenComplete((c, t) -> {
      if (t instanceof CancellationException) {
        call.cancel();
      }
    });
    return result;
  }

  /** The calling task's GPU addresses (empty outside a task or for a task without GPUs). */
  static String[] taskGpus() {
    TaskContext tc = TaskContext.get();
    if (tc == null) {
      return new String[0];
    }
    ResourceInformation gpu = tc.resourcesJMap().get("gpu");
    return gpu == null ? new String[0] : gpu.addresses();
  }

  /** The prompt as the server must see it: the template's leading BOS text removed, since the server adds BOS. */
  String serverPrompt(String prompt) {
    return !bosText.isEmpty() && prompt.startsWith(bosText) ? prompt.substring(bosText.length()) : prompt;
  }

  /** One row's request through its attempts. */
  private final class Call {
    final Endpoint endpoint;
    final CompletionRequest request;
    final byte[] body;
    final CompletableFuture<Completion> result;
    int attempt;
    long startNanos;
    // what to undo on cancel: the queue entry, or the exchange in flight
    private Endpoint.Queued queued;
    private CompletableFuture<HttpResponse<String>> exchange;

    Call(Endpoint endpoint, CompletionRequest request, byte[] body, CompletableFuture<Completion> result) {
      this.endpoint = endpoint;
      this.request = request;
      this.body = body;
      this.result = result;
    }

    void enqueue(long order) {
      Endpoint.Queued q = endpoint.enqueue(this::send, order);
      synchronized (this) {
        if (exchange == null || exchange.isDone()) {
          queued = q; // still waiting (send() clears it when it starts)
        }
      }
    }

    /** The row's future was cancelled: out of the queue if it waits there, else abort the exchange. */
    void cancel() {
      Endpoint.Queued q;
      CompletableFuture<HttpResponse<String>> f;
      synchronized (this) {
        q = queued;
        f = exchange;
      }
      if (q != null && endpoint.withdraw(q)) {
        return; // never started: it held no permit
      }
      if (f != null) {
        f.cancel(true); // the JDK client aborts the exchange and closes its connection; done() frees the permit
      }
    }

    /** Runs holding one of the endpoint's permits; returns at once. */
    void send() {
      synchronized (this) {
        queued = null;
      }
      if (result.isDone()) { // cancelled while queued or backing off
        endpoint.release();
        return;
      }
      if (closed) {
        endpoint.release();
        result.completeExceptionally(new EngineException("the " + kind.serverName() + " engine was closed"));
        return;
      }
      HttpRequest req = HttpRequest.newBuilder(endpoint.base.resolve(wire.path()))
          .timeout(requestTimeout)
          .header("Content-Type", "application/json")
          .header("Accept", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(body))
          .build();
      attempt++;
      endpoint.sent.incrementAndGet();
      startNanos = System.nanoTime();
      CompletableFuture<HttpResponse<String>> f;
      try {
        f = http.sendAsync(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      } catch (RuntimeException e) {
        callbacks.execute(() -> done(null, e));
        return;
      }
      synchronized (this) {
        exchange = f;
      }
      if (result.isDone()) {
        f.cancel(true); // cancelled between the check above and now
      }
      // On the thread that completes the exchange (one of the two above): another hop through the pool for every
      // answer cost 0.005 of busy fraction in the serving bench (0.949-0.952 against 0.955-0.958).
      f.whenComplete(this::done);
    }

    private void done(HttpResponse<String> response, Throwable error) {
      long latencyMs = (System.nanoTime() - startNanos) / 1_000_000;
      endpoint.release(); // the window goes on at once, also while this call backs off
      if (result.isDone()) {
        return; // cancelled: nobody waits for this answer
      }
      if (error != null) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        String what = cause instanceof HttpTimeoutException ? "timed out after " + requestTimeout.toSeconds() + " s"
            : cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
        if (RetryPolicy.retryable(cause)) { // refused, reset, closed, timed out: all worth another try
          retryOrFail(what, cause);
        } else {
          fail(what, cause);
        }
        return;
      }
      int status = response.statusCode();
      if (status == 200) {
        try {
          result.complete(wire.parse(response.body(), request, latencyMs));
        } catch (IOException | RuntimeException e) {
          fail("unreadable response: " + e.getMessage(), e);
        }
        return;
      }
      String what = "HTTP " + status + ": " + WireProtocol.serverMessage(response.body());
      if (RetryPolicy.retryableStatus(status)) {
        retryOrFail(what, null);
      } else if (RetryPolicy.rowStatus(status)) {
        // The server refused what this row holds (its prompt's length, its schema, its parameters): a row error.
        endpoint.failed.incrementAndGet();
        result.completeExceptionally(EngineException.rowError(kind.serverName() + " at " + endpoint.base + " " + what));
      } else {
        fail(what, null); // 401, 404, ...: the configuration, not the row
      }
    }

    private void retryOrFail(String problem, Throwable cause) {
      if (!retry.mayRetry(attempt) || closed) {
        fail(problem + (attempt > 1 ? " (after " + attempt + " attempts)" : ""), cause);
        return;
      }
      endpoint.retried.incrementAndGet();
      CompletableFuture.delayedExecutor(retry.delayMs(attempt), TimeUnit.MILLISECONDS, callbacks)
          .execute(() -> {
            if (!result.isDone()) {
              enqueue(Long.MIN_VALUE); // retries go ahead of every queued row
            }
          });
    }

    private void fail(String problem, Throwable cause) {
      endpoint.failed.incrementAndGet();
      String msg = kind.serverName() + " at " + endpoint.base + " " + problem;
      result.completeExceptionally(cause == null ? new EngineException(msg) : new EngineException(msg, cause));
    }
  }

  /**
   * The servers' own figures ({@code /metrics}, read now, or as last read before close) and the client's (requests
   * sent, retried, failed), for the run summary. Empty where nothing could be read.
   */
  @Override
  public Map<String, Double> serverMetrics() {
    Map<String, Double> last = finalMetrics;
    if (last != null) {
      return last;
    }
    return metrics.read(servers());
  }

  @Override
  public void close() {
    if (!closed) {
      try {
        finalMetrics = metrics.read(servers()); // before launch mode stops the servers
      } catch (RuntimeException e) {
        finalMetrics = Map.of();
      }
    }
    closed = true;
    try {
      if (router.launcher() != null) {
        router.launcher().close();
      }
    } finally {
      callbacks.shutdownNow(); // the HttpClient's own selector thread is a daemon and ends with the client
    }
  }
}
