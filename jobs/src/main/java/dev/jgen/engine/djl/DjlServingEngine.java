package dev.jgen.engine.djl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
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
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * {@code engine.kind=djl-serving}: TensorRT-LLM (or vLLM) behind DJL Serving's LMI HTTP API, one server per GPU group.
 *
 * <p>One request per row ({@code POST /invocations}, or {@code /v1/completions} with {@code api=openai}); the server
 * batches in flight. Each server has a bounded window of requests in flight ({@link Endpoint}) shared by every task of
 * the executor, so the server's batch stays full across partitions (queued rows go out oldest task first, which
 * staggers the tasks' partition boundaries: see {@link Endpoint}); {@link #submit} never blocks. Failed calls are
 * retried with exponential backoff and jitter on 503/429/5xx, timeouts and broken connections; other 4xx fail at once.
 * A row that still fails becomes an error row carrying the server's status and message.
 *
 * <p>Routing: a task pinned to a GPU ({@code TaskContext.resources().get("gpu")}) uses the server of that GPU (launch
 * mode: the server whose group holds the address; endpoint mode with several URLs: the URL at the address's index,
 * modulo their count) while that server's window has room; otherwise, and for tasks without GPUs, each request goes
 * to the least-loaded server (Spark packs fractional GPU tasks onto one address first, which would idle the others).
 */
final class DjlServingEngine implements Engine {
  static final String KIND = "djl-serving";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int BODY_EXCERPT = 300;

  enum Api { INVOCATIONS, OPENAI }

  private final EngineSpec spec;
  private final Api api;
  private final String bosText;
  private final int retries;
  private final long retryBaseMs;
  private final long retryMaxMs;
  private final Duration requestTimeout;
  private final int windowPerServer;
  private final List<Endpoint> fixed; // endpoint mode
  private final ServerLauncher launcher; // launch mode
  private final HttpClient http;
  private final ExecutorService callbacks;
  private final AtomicInteger roundRobin = new AtomicInteger();
  private final EngineInfo info;
  private volatile boolean closed;

  DjlServingEngine(EngineSpec spec) {
    this(spec, null);
  }

  /**
   * @param gpuAddresses the executor's GPU addresses for launch mode, or null to discover them ({@link GpuGroups})
   */
  DjlServingEngine(EngineSpec spec, List<String> gpuAddresses) {
    long start = System.nanoTime();
    this.spec = spec;
    String apiName = spec.option("api", "invocations");
    this.api = switch (apiName) {
      case "invocations" -> Api.INVOCATIONS;
      case "openai" -> Api.OPENAI;
      default -> throw new EngineException("engine.djl.api: unknown API '" + apiName + "' (invocations | openai)");
    };
    this.bosText = spec.option("bos_text", "");
    this.retries = spec.intOption("retries", 5);
    this.retryBaseMs = spec.intOption("retry_base_ms", 200);
    this.retryMaxMs = spec.intOption("retry_max_ms", 10_000);
    this.requestTimeout = Duration.ofSeconds(spec.intOption("request_timeout_s", 300));
    int window = spec.intOption("window", 0);
    this.windowPerServer = window > 0 ? window : Math.max(1, spec.intOption("max_rolling_batch_size", 64));
    AtomicInteger n = new AtomicInteger();
    this.callbacks = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "jgen-djl-" + n.incrementAndGet());
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
          String[] urls = spec.option("endpoints", "").split(",");
          for (String u : urls) {
            if (!u.isBlank()) {
              list.add(new Endpoint(baseUri(u.trim()), List.of(), windowPerServer));
            }
          }
          if (list.isEmpty()) {
            throw new EngineException("engine.djl.endpoints: no server URL given (endpoint mode)");
          }
          this.fixed = List.copyOf(list);
          this.launcher = null;
        }
        case "launch" -> {
          this.fixed = null;
          List<String> gpus = gpuAddresses != null ? gpuAddresses : GpuGroups.executorGpus(spec);
          this.launcher = new ServerLauncher(spec, windowPerServer, gpus, taskGpus());
        }
        default -> throw new EngineException("engine.djl.mode: unknown mode '" + mode + "' (endpoint | launch)");
      }
    } catch (RuntimeException e) {
      callbacks.shutdownNow();
      throw e;
    }
    long loadMillis = (System.nanoTime() - start) / 1_000_000;
    String version = "DJL Serving LMI " + (api == Api.OPENAI ? "/v1/completions" : "/invocations") + " (" + mode + " mode)";
    this.info = new EngineInfo(KIND, version, UUID.randomUUID().toString(), loadMillis);
  }

  static URI baseUri(String url) {
    String u = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    try {
      URI uri = URI.create(u);
      if (uri.getScheme() == null || uri.getHost() == null) {
        throw new IllegalArgumentException("no scheme or host");
      }
      return uri;
    } catch (IllegalArgumentException e) {
      throw new EngineException("engine.djl.endpoints: not a server URL: '" + url + "' (" + e.getMessage() + ")");
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

  /** The servers in use (launch mode: started so far). */
  List<Endpoint> servers() {
    return launcher != null ? launcher.endpoints() : fixed;
  }

  ServerLauncher launcher() {
    return launcher;
  }

  @Override
  public CompletableFuture<Completion> submit(CompletionRequest request) {
    CompletableFuture<Completion> result = new CompletableFuture<>();
    if (closed) {
      result.completeExceptionally(new EngineException("the DJL Serving engine is closed"));
      return result;
    }
    Endpoint endpoint;
    byte[] body;
    try {
      endpoint = route(taskGpus()); // on the task thread: TaskContext is thread-local
      body = JSON.writeValueAsBytes(requestBody(request));
    } catch (IOException | RuntimeException e) {
      result.completeExceptionally(e instanceof EngineException ? e : new EngineException(e.getMessage(), e));
      return result;
    }
    Call call = new Call(endpoint, request, body, result);
    TaskContext tc = TaskContext.get();
    endpoint.enqueue(call::send, tc == null ? 0 : tc.taskAttemptId());
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

  Endpoint route(String[] gpus) {
    Endpoint pinned = null;
    if (launcher != null) {
      pinned = launcher.endpointFor(gpus);
    } else if (fixed.size() == 1) {
      return fixed.get(0);
    } else if (gpus.length > 0) {
      Integer index = GpuGroups.numeric(gpus[0]);
      if (index != null) {
        pinned = fixed.get(Math.floorMod(index, fixed.size()));
      }
    }
    if (pinned != null && pinned.load() < pinned.window) {
      return pinned;
    }
    // No GPU, or the task's server already has a full window and queue: Spark packs fractional GPU tasks onto the
    // first address before the next, so strict pinning would leave the other servers idle. Take the least loaded.
    Endpoint least = leastLoaded(servers());
    return pinned != null && least.load() >= least.window ? pinned : least;
  }

  private Endpoint leastLoaded(List<Endpoint> list) {
    int n = list.size();
    int startAt = Math.floorMod(roundRobin.getAndIncrement(), n);
    Endpoint best = null;
    int bestLoad = Integer.MAX_VALUE;
    for (int i = 0; i < n; i++) {
      Endpoint e = list.get((startAt + i) % n);
      int load = e.load();
      if (load < bestLoad) {
        best = e;
        bestLoad = load;
      }
    }
    return best;
  }

  /** The prompt as the server must see it: the template's leading BOS text removed, since the server adds BOS. */
  String serverPrompt(String prompt) {
    return !bosText.isEmpty() && prompt.startsWith(bosText) ? prompt.substring(bosText.length()) : prompt;
  }

  ObjectNode requestBody(CompletionRequest request) {
    SamplingParams p = request.params();
    ObjectNode o = JSON.createObjectNode();
    String prompt = serverPrompt(request.promptText());
    boolean sample = p.temperature() > 0;
    if (api == Api.INVOCATIONS) {
      o.put("inputs", prompt);
      ObjectNode params = o.putObject("parameters");
      params.put("max_new_tokens", p.maxNewTokens()); // always: the server's default is 30
      params.put("do_sample", sample);
      if (sample) { // greedy needs none of them; some handlers reject temperature 0
        params.put("temperature", p.temperature());
        params.put("top_p", p.topP());
        if (p.topK() > 0) {
          params.put("top_k", p.topK());
        }
      }
      params.put("repetition_penalty", p.repetitionPenalty());
      params.put("seed", p.seed());
      if (!p.stop().isEmpty()) {
        ArrayNode stop = params.putArray("stop");
        p.stop().forEach(stop::add);
      }
      params.put("details", true);
      params.put("return_full_text", false);
    } else {
      o.put("model", spec.model());
      o.put("prompt", prompt);
      o.put("max_tokens", p.maxNewTokens());
      o.put("temperature", sample ? p.temperature() : 0.0);
      o.put("top_p", sample ? p.topP() : 1.0);
      if (sample && p.topK() > 0) {
        o.put("top_k", p.topK()); // an extra parameter vLLM and trtllm-serve accept
      }
      if (p.repetitionPenalty() != 1.0) {
        o.put("repetition_penalty", p.repetitionPenalty());
      }
      o.put("seed", p.seed());
      if (!p.stop().isEmpty()) {
        ArrayNode stop = o.putArray("stop");
        p.stop().forEach(stop::add);
      }
      o.put("stream", false);
    }
    return o;
  }

  /** Reads a 200 response into a completion. */
  Completion parse(String body, CompletionRequest request, long latencyMs) throws IOException {
    JsonNode root = JSON.readTree(body);
    int maxNew = request.params().maxNewTokens();
    int promptTokens = request.promptTokenIds() == null ? 0 : request.promptTokenIds().length;
    if (api == Api.INVOCATIONS) {
      JsonNode r = root.isArray() && root.size() > 0 ? root.get(0) : root;
      JsonNode text = r.get("generated_text");
      if (text == null || !text.isTextual()) {
        throw new IOException("no generated_text in the response: " + excerpt(body));
      }
      JsonNode details = r.path("details");
      int generated = details.path("generated_tokens").asInt(-1);
      String finish = finishReason(details.path("finish_reason").isTextual() ? details.get("finish_reason").asText() : null,
          generated, maxNew);
      if (promptTokens == 0) {
        promptTokens = details.path("prompt_tokens").asInt(0);
      }
      return new Completion(text.asText(), promptTokens, Math.max(0, generated), finish, latencyMs);
    }
    JsonNode choice = root.path("choices").path(0);
    JsonNode text = choice.get("text");
    if (text == null || !text.isTextual()) {
      throw new IOException("no choices[0].text in the response: " + excerpt(body));
    }
    JsonNode usage = root.path("usage");
    int generated = usage.path("completion_tokens").asInt(-1);
    if (promptTokens == 0) {
      promptTokens = usage.path("prompt_tokens").asInt(0);
    }
    String finish = finishReason(choice.path("finish_reason").isTextual() ? choice.get("finish_reason").asText() : null,
        generated, maxNew);
    return new Completion(text.asText(), promptTokens, Math.max(0, generated), finish, latencyMs);
  }

  /**
   * jgen's finish reasons: {@code length} or {@code stop}. The server's {@code eos_token} and {@code stop_sequence} are
   * stops; a missing reason (TensorRT-LLM's async path often leaves it null) is inferred from the token count.
   */
  static String finishReason(String server, int generatedTokens, int maxNewTokens) {
    if (server == null || server.isBlank() || server.equals("null")) {
      return generatedTokens >= maxNewTokens ? "length" : "stop";
    }
    return switch (server) {
      case "length", "max_tokens" -> "length";
      case "eos_token", "eos", "stop_sequence", "stop" -> "stop";
      default -> server;
    };
  }

  static String excerpt(String body) {
    String b = body == null ? "" : body.strip().replaceAll("\\s+", " ");
    return b.length() <= BODY_EXCERPT ? b : b.substring(0, BODY_EXCERPT) + "…";
  }

  /** One row's request through its attempts. */
  private final class Call {
    final Endpoint endpoint;
    final CompletionRequest request;
    final byte[] body;
    final CompletableFuture<Completion> result;
    int attempt;
    long startNanos;
    String lastProblem;

    Call(Endpoint endpoint, CompletionRequest request, byte[] body, CompletableFuture<Completion> result) {
      this.endpoint = endpoint;
      this.request = request;
      this.body = body;
      this.result = result;
    }

    /** Runs holding one of the endpoint's permits; returns at once. */
    void send() {
      if (closed) {
        endpoint.release();
        result.completeExceptionally(new EngineException("the DJL Serving engine was closed"));
        return;
      }
      URI uri = endpoint.base.resolve(api == Api.OPENAI ? "/v1/completions" : "/invocations");
      HttpRequest req = HttpRequest.newBuilder(uri)
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
      f.whenCompleteAsync(this::done, callbacks);
    }

    private void done(HttpResponse<String> response, Throwable error) {
      long latencyMs = (System.nanoTime() - startNanos) / 1_000_000;
      endpoint.release(); // the window goes on at once, also while this call backs off
      if (error != null) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        String what = cause instanceof HttpTimeoutException ? "timed out after " + requestTimeout.toSeconds() + " s"
            : cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
        if (cause instanceof IOException) { // refused, reset, closed, timed out: all worth another try
          retryOrFail(what, cause);
        } else {
          fail(what, cause);
        }
        return;
      }
      int status = response.statusCode();
      if (status == 200) {
        try {
          result.complete(parse(response.body(), request, latencyMs));
        } catch (IOException | RuntimeException e) {
          fail("unreadable response: " + e.getMessage(), e);
        }
        return;
      }
      String what = "HTTP " + status + ": " + serverMessage(response.body());
      if (status == 503 || status == 429 || status >= 500) {
        retryOrFail(what, null);
      } else {
        fail(what, null);
      }
    }

    private void retryOrFail(String problem, Throwable cause) {
      lastProblem = problem;
      if (attempt > retries || closed) {
        fail(problem + (attempt > 1 ? " (after " + attempt + " attempts)" : ""), cause);
        return;
      }
      endpoint.retried.incrementAndGet();
      long cap = Math.min(retryMaxMs, retryBaseMs << Math.min(20, attempt - 1));
      long delay = cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1); // exponential, jittered
      CompletableFuture.delayedExecutor(delay, TimeUnit.MILLISECONDS, callbacks)
          .execute(() -> endpoint.enqueue(this::send, Long.MIN_VALUE));
    }

    private void fail(String problem, Throwable cause) {
      endpoint.failed.incrementAndGet();
      String msg = "DJL Serving at " + endpoint.base + " " + problem;
      result.completeExceptionally(cause == null ? new EngineException(msg) : new EngineException(msg, cause));
    }
  }

  /** DJL's error bodies are {@code {"code":..., "message":..., "error":...}}; keep the message, else an excerpt. */
  static String serverMessage(String body) {
    try {
      JsonNode n = JSON.readTree(body);
      if (n != null && n.isObject()) {
        String m = n.path("message").asText("");
        String e = n.path("error").isTextual() ? n.path("error").asText() : n.path("error").path("message").asText("");
        String s = m.isEmpty() ? e : e.isEmpty() || e.equals(m) ? m : m + " (" + e + ")";
        if (!s.isEmpty()) {
          return excerpt(s);
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // not JSON: the raw excerpt below
    }
    return excerpt(body);
  }

  @Override
  public void close() {
    closed = true;
    try {
      if (launcher != null) {
        launcher.close();
      }
    } finally {
      callbacks.shutdownNow(); // the HttpClient's own selector thread is a daemon and ends with the client
    }
  }
}
