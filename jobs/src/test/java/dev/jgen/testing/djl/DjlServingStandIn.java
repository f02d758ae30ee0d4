package dev.jgen.testing.djl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.prompt.HfTokenizer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A stand-in for DJL Serving (LMI) on 127.0.0.1 for tests: {@code GET /ping}, {@code POST /invocations} (and
 * {@code /predictions/{model}}), {@code POST /v1/completions}, with DJL's request and response shapes.
 *
 * <p>It behaves like a continuously batching server: a job queue of {@code jobQueueSize} requests (full: 503, as DJL
 * answers), and a scheduler that every {@code stepMillis} lets each of up to {@code batch} active sequences emit one
 * token; a finished sequence answers and frees its slot, which a queued request takes at the next step. Text, token
 * counts and finish reasons are real: the embedded llama.cpp engine generates each request on the tiny model (the
 * prompt tokenized with the model's Hugging Face tokenizer, BOS added as the server does) as soon as it is queued, and
 * the scheduler releases its tokens one per step (llama.cpp is much faster than a step; should it fall behind, the
 * slot stalls and the stall does not count as a used slot-step). Faults on demand: a share of requests answered 503, a share of
 * connections closed without an answer. Metrics: in-flight requests per step, slot-steps used of those available, and
 * every request body.
 */
public final class DjlServingStandIn implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Settings; every field has a default. */
  public static final class Options {
    public int port = 0;
    public int batch = 8;
    public int jobQueueSize = 1000;
    public long stepMillis = 20;
    public double share503 = 0;
    public double shareDropped = 0;
    public long seed = 1;
    public boolean nullFinishReason = false;
    /** {@code GET /metrics}: {@code trtllm} (trtllm-serve's JSON array of iteration stats, drained per read), {@code prometheus} (vLLM-style text) or null (404). */
    public String metricsFormat = null;
    public int maxInputLen = 0;
    public String modelName = "jgen";
    /** The tiny model's folder (GGUF + tokenizer.json); default: written into the jgen cache. */
    public Path modelDir;
    public int llamaParallel = 4;
    /**
     * No model: each request generates exactly its max_new_tokens tokens of filler text, one per step. For
     * benchmarks of the feeding side at GPU scale (hundreds of slots), where the tiny model would be the bottleneck.
     */
    public boolean synthetic = false;
    /**
     * No model: each request is answered with this function of its prompt (the text after the server's BOS), for
     * tests that need known outputs, such as a judge writing a rating into its Japanese text. Released one token per
     * step like any generation; finish reason eos.
     */
    public java.util.function.Function<String, String> responder = null;
    /**
     * On the OpenAI wire, report {@code usage.prompt_tokens_details.cached_tokens} as vLLM does when asked: the tiny
     * model's engine's own count of prompt tokens it took from its prefix cache (left out where it has none).
     */
    public boolean reportCachedTokens = false;

    /** A synthetic server ({@link #synthetic}) of {@code batch} slots stepping every {@code stepMillis}. */
    public static Options synthetic(int batch, long stepMillis) {
      Options o = new Options();
      o.batch = batch;
      o.stepMillis = stepMillis;
      o.synthetic = true;
      return o;
    }
  }

  /** One request the server received. */
  public record Received(String path, JsonNode body) {}

  /** What the scheduler saw since the last {@link #resetMetrics()}, up to the last completed request. */
  public record Metrics(long steps, long slotStepsUsed, long slotStepsAvailable, long stepsAtLeastBatchInFlight,
      double avgInFlight, int maxInFlight, long completed, long rejected503Full, long injected503, long dropped) {
    public double busyFraction() {
      return slotStepsAvailable == 0 ? 0 : (double) slotStepsUsed / slotStepsAvailable;
    }

    public double fullFraction() {
      return steps == 0 ? 0 : (double) stepsAtLeastBatchInFlight / steps;
    }

    @Override
    public String toString() {
      return String.format("steps=%d busy=%.4f (slot-steps %d/%d) in-flight avg=%.2f max=%d, >=batch in %.1f%% of steps, "
              + "completed=%d, 503 queue-full=%d, 503 injected=%d, dropped=%d",
          steps, busyFraction(), slotStepsUsed, slotStepsAvailable, avgInFlight, maxInFlight, 100 * fullFraction(),
          completed, rejected503Full, injected503, dropped);
    }
  }

  private static final class Seq {
    final CompletableFuture<Completion> generation;
    final CompletableFuture<Integer> done = new CompletableFuture<>(); // the step it finished
    final int promptTokens;
    final int maxNew;
    int tokens = -1;
    int emitted;

    Seq(CompletableFuture<Completion> generation, int promptTokens, int maxNew) {
      this.generation = generation;
      this.promptTokens = promptTokens;
      this.maxNew = maxNew;
    }
  }

  private final Options o;
  private volatile boolean failAll;
  private final HttpServer server;
  private final ExecutorService handlers;
  private final ScheduledExecutorService scheduler;
  private final Engine llama;
  private final HfTokenizer tokenizer;
  private final String bosText;
  private final Random random;
  private final Object lock = new Object();
  private final ArrayDeque<Seq> waiting = new ArrayDeque<>();
  private final List<Seq> active = new ArrayList<>();
  private final ConcurrentLinkedQueue<Received> received = new ConcurrentLinkedQueue<>();
  private final AtomicLong requestIds = new AtomicLong();
  private final List<Integer> trace = new ArrayList<>(); // in-flight requests at each measured step

  // metrics, under lock
  private boolean measuring;
  private long steps;
  /** The measured step at which the latest request arrived: after it the server only drains. */
  private long lastArrivalStep;
  private long used;
  private long full;
  private long inFlightSum;
  private int maxInFlight;
  private long completed;
  private long rejectedFull;
  private long injected503;
  private long dropped;
  // served metrics (independent of the measured window): iteration stats for trtllm, running totals for prometheus
  private final ArrayDeque<ObjectNode> iterationStats = new ArrayDeque<>();
  private long iterations;
  private long generationTokensTotal;
  private long requestsFinishedTotal;
  private Metrics atLastCompletion = new Metrics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  private DjlServingStandIn(Options o) throws IOException {
    this.o = o;
    this.random = new Random(o.seed);
    Path dir = o.modelDir != null ? o.modelDir : TinyModelWriter.ensure(cacheDir(), TinyModelSpec.tiny());
    byte[] tok = Files.readAllBytes(dir.resolve(TinyModelWriter.TOKENIZER_FILE));
    this.tokenizer = HfTokenizer.shared(sha256(tok), tok);
    JsonNode cfg = JSON.readTree(dir.resolve(TinyModelWriter.TOKENIZER_CONFIG_FILE).toFile());
    JsonNode bos = cfg.get("bos_token");
    this.bosText = bos == null ? "" : bos.isTextual() ? bos.asText() : bos.path("content").asText("");
    this.llama = o.synthetic || o.responder != null ? null : EngineRegistry.shared(new EngineSpec("llamacpp", dir.resolve(TinyModelWriter.GGUF_FILE).toString(),
        Map.of("parallel", String.valueOf(o.llamaParallel), "ctx_size", "512", "threads", "1")));
    this.handlers = Executors.newCachedThreadPool(daemon("standin-http"));
    // Netty (DJL Serving) sets TCP_NODELAY; without it the JDK server's separate header and body writes meet the
    // client's delayed ACK and every response waits 40 ms.
    System.setProperty("sun.net.httpserver.nodelay", "true");
    this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), o.port), 512);
    server.setExecutor(handlers);
    server.createContext("/", this::handle);
    this.scheduler = Executors.newSingleThreadScheduledExecutor(daemon("standin-step"));
    server.start();
    // Fixed delay, not fixed rate: after a stall of this JVM (GC, a loaded machine) a fixed rate runs the missed steps
    // back to back, answering requests faster than any client can replace them, which shows as a dip in the window
    // that the client did not cause. With a fixed delay the client always gets a step's time to react.
    scheduler.scheduleWithFixedDelay(this::step, o.stepMillis, o.stepMillis, TimeUnit.MILLISECONDS);
  }

  /** From now on (until set back), every generation request is answered 500: a broken server. */
  public void failAll(boolean fail) {
    this.failAll = fail;
  }

  public static DjlServingStandIn start(Options o) throws IOException {
    return new DjlServingStandIn(o);
  }

  /** Where jgen keeps generated models (the same folder the job resolves tiny-llama-ja from). */
  public static Path cacheDir() {
    return dev.jgen.catalog.ModelResolver.defaultCacheDir().resolve("models");
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    AtomicLong n = new AtomicLong();
    return r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public int port() {
    return server.getAddress().getPort();
  }

  public URI url() {
    return URI.create("http://127.0.0.1:" + port());
  }

  public Options options() {
    return o;
  }

  /** Every request body received (also the ones answered 503 or dropped), in arrival order. */
  public List<Received> received() {
    return List.copyOf(received);
  }

  public Metrics metrics() {
    synchronized (lock) {
      return atLastCompletion;
    }
  }

  /** Starts measuring afresh: the window opens at the next request to arrive. */
  public void resetMetrics() {
    synchronized (lock) {
      measuring = false;
      steps = used = full = inFlightSum = completed = rejectedFull = injected503 = dropped = lastArrivalStep = 0;
      maxInFlight = 0;
      atLastCompletion = new Metrics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
      received.clear();
      trace.clear();
    }
  }

  /** The measured step at which the latest request arrived (the final drain follows it). */
  public long lastArrivalStep() {
    synchronized (lock) {
      return lastArrivalStep;
    }
  }

  /** In-flight requests (queued + batched) at each step since the last reset, up to the last completed request. */
  public List<Integer> inFlightTrace() {
    synchronized (lock) {
      return List.copyOf(trace.subList(0, (int) Math.min(trace.size(), atLastCompletion.steps())));
    }
  }

  // ---- the scheduler: one step per stepMillis ----

  private void step() {
    try {
      synchronized (lock) {
        // Queued requests join free slots in arrival order (the batch takes them at once, as prefill does).
        while (active.size() < o.batch && !waiting.isEmpty()) {
          active.add(waiting.pollFirst());
        }
        int inFlight = waiting.size() + active.size();
        int emitted = 0;
        List<Seq> done = new ArrayList<>();
        List<Seq> failed = new ArrayList<>();
        for (Iterator<Seq> it = active.iterator(); it.hasNext(); ) {
          Seq s = it.next();
          if (s.generation.isDone()) {
            if (s.generation.isCompletedExceptionally()) {
              it.remove();
              failed.add(s);
              continue;
            }
            if (s.tokens < 0) {
              s.tokens = Math.max(1, s.generation.join().completionTokens());
              if (s.emitted >= s.tokens) {
                // llama.cpp was slower than the steps: the slot emitted ahead of the real tokens. Those steps were
                // not real work, so they do not count as used.
                emitted -= s.emitted - s.tokens;
                it.remove();
                done.add(s);
                continue;
              }
            }
          } else if (s.emitted >= s.maxNew) {
            continue; // waiting for llama.cpp: a stalled slot, not counted as used
          }
          s.emitted++;
          emitted++;
          if (s.tokens >= 0 && s.emitted >= s.tokens) {
            it.remove();
            done.add(s);
          }
        }
        int finished = done.size();
        recordIteration(inFlight, emitted, finished);
        if (measuring) {
          steps++;
          used += emitted;
          inFlightSum += inFlight;
          trace.add(inFlight);
          maxInFlight = Math.max(maxInFlight, inFlight);
          if (inFlight >= o.batch) {
            full++;
          }
          completed += finished;
          if (finished > 0) {
            atLastCompletion = snapshot();
          }
        }
        for (Seq s : done) {
          s.done.complete((int) steps);
        }
        for (Seq s : failed) {
          s.done.complete(-1);
        }
      }
    } catch (RuntimeException e) {
      e.printStackTrace();
    }
  }

  /** One scheduler step as trtllm-serve reports an iteration (field names from its /metrics); under lock. */
  private void recordIteration(int inFlight, int emitted, int finished) {
    if (inFlight == 0 && emitted == 0) {
      return; // idle: trtllm-serve reports iterations only while it has work
    }
    iterations++;
    generationTokensTotal += emitted; // may be negative in a step that takes back steps emitted ahead of llama.cpp
    requestsFinishedTotal += finished;
    if (!"trtllm".equals(o.metricsFormat)) {
      return;
    }
    ObjectNode it = JSON.createObjectNode();
    it.put("iter", iterations);
    it.put("iterLatencyMS", (double) o.stepMillis);
    it.put("numActiveRequests", active.size());
    it.put("numQueuedRequests", waiting.size());
    it.put("numCompletedRequests", finished);
    it.put("maxBatchSizeStatic", o.batch);
    it.put("newActiveRequestsQueueLatencyMS", 0.0);
    it.putObject("inflightBatchingStats").put("numGenRequests", Math.max(0, emitted)).put("numContextRequests", 0);
    it.putObject("kvCacheStats").put("maxNumBlocks", 1000).put("usedNumBlocks", 10 * active.size()).put("cacheHitRate", 0.0);
    iterationStats.addLast(it);
    while (iterationStats.size() > 1000) { // trtllm-serve keeps a bounded queue too
      iterationStats.pollFirst();
    }
  }

  private String metricsBody() {
    synchronized (lock) {
      if ("trtllm".equals(o.metricsFormat)) {
        var arr = JSON.createArrayNode();
        iterationStats.forEach(arr::add);
        iterationStats.clear(); // each iteration is handed out once, as trtllm-serve does
        return arr.toString();
      }
      return "# HELP vllm:num_requests_running Number of requests in the batch.\n"
          + "# TYPE vllm:num_requests_running gauge\n"
          + "vllm:num_requests_running{model_name=\"" + o.modelName + "\"} " + active.size() + "\n"
          + "vllm:num_requests_waiting{model_name=\"" + o.modelName + "\"} " + waiting.size() + "\n"
          + "# TYPE vllm:generation_tokens_total counter\n"
          + "vllm:generation_tokens_total{model_name=\"" + o.modelName + "\"} " + generationTokensTotal + "\n"
          + "vllm:request_success_total{finished_reason=\"stop\",model_name=\"" + o.modelName + "\"} " + requestsFinishedTotal + "\n"
          + "vllm:iteration_tokens_total_bucket{le=\"1.0\"} 3\n"
          + "vllm:e2e_request_latency_seconds_sum " + (iterations * o.stepMillis / 1000.0) + "\n"
          + "vllm:e2e_request_latency_seconds_count " + Math.max(1, requestsFinishedTotal) + "\n";
    }
  }

  private Metrics snapshot() {
    return new Metrics(steps, used, steps * o.batch, full, steps == 0 ? 0 : (double) inFlightSum / steps, maxInFlight,
        completed, rejectedFull, injected503, dropped);
  }

  // ---- HTTP ----

  private void handle(HttpExchange ex) {
    boolean answeredLater = false;
    try {
      String path = ex.getRequestURI().getPath();
      String method = ex.getRequestMethod();
      if (method.equals("GET") && path.equals("/health")) { // trtllm-serve's readiness
        send(ex, 200, "");
        return;
      }
      if (method.equals("GET") && path.equals("/metrics") && o.metricsFormat != null) {
        byte[] b = metricsBody().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", o.metricsFormat.equals("trtllm") ? "application/json" : "text/plain; version=0.0.4");
        ex.sendResponseHeaders(200, b.length);
        try (OutputStream os = ex.getResponseBody()) {
          os.write(b);
        }
        return;
      }
      if (method.equals("GET") && path.equals("/ping")) {
        send(ex, 200, "{\"" + o.modelName + "\":{\"status\":\"Healthy\"}}");
        return;
      }
      boolean openai = path.equals("/v1/completions");
      if (!method.equals("POST") || !(openai || path.equals("/invocations") || path.startsWith("/predictions/"))) {
        send(ex, 404, "{\"code\":404,\"type\":\"ResourceNotFoundException\",\"message\":\"Requested resource is not found\"}");
        return;
      }
      byte[] raw = ex.getRequestBody().readAllBytes();
      JsonNode body;
      try {
        body = JSON.readTree(raw);
      } catch (IOException e) {
        send(ex, 400, "{\"code\":400,\"type\":\"BadRequestException\",\"message\":\"Invalid JSON input\"}");
        return;
      }
      received.add(new Received(path, body));
      double r;
      synchronized (random) {
        r = random.nextDouble();
      }
      if (failAll) {
        send(ex, 500, error(500, "stand-in: injected internal server error"));
        return;
      }
      if (r < o.shareDropped) {
        synchronized (lock) {
          dropped++;
        }
        return; // closing the exchange before any response header closes the connection: the client sees EOF
      }
      if (r < o.shareDropped + o.share503) {
        synchronized (lock) {
          injected503++;
        }
        send(ex, 503, "{\"code\":503,\"type\":\"ServiceUnavailableException\",\"message\":\"injected: server busy\"}");
        return;
      }
      answeredLater = generate(ex, body, openai);
    } catch (IOException | RuntimeException e) {
      // the client went away: nothing to answer
    } finally {
      if (!answeredLater) {
        ex.close();
      }
    }
  }

  /**
   * Queues a generation. Returns true when the request was queued: it is then answered (and its exchange closed) when
   * its sequence finishes, from the handler pool, with no thread waiting for it meanwhile (as DJL Serving's Netty does;
   * a thread per request in flight cost the bench's two cores hundreds of parked threads). False: already answered.
   */
  private boolean generate(HttpExchange ex, JsonNode body, boolean openai) throws IOException {
    String prompt;
    JsonNode p;
    int maxNew;
    if (openai) {
      prompt = body.path("prompt").asText(null);
      p = body;
      maxNew = body.path("max_tokens").asInt(16); // OpenAI's default
    } else {
      prompt = body.path("inputs").asText(null);
      p = body.path("parameters");
      maxNew = p.path("max_new_tokens").asInt(30); // DJL's default
    }
    if (prompt == null) {
      send(ex, 400, "{\"code\":400,\"type\":\"BadRequestException\",\"message\":\"Missing \\\"inputs\\\" field\"}");
      return false;
    }
    // As DJL does: the server tokenizes and adds BOS itself.
    int[] ids = tokenizer.encode(bosText + prompt);
    if (o.maxInputLen > 0 && ids.length > o.maxInputLen) {
      send(ex, 400, error(400, "Input length " + ids.length + " exceeds max_input_len " + o.maxInputLen));
      return false;
    }
    boolean sample = openai ? p.path("temperature").asDouble(1.0) > 0 : p.path("do_sample").asBoolean(false);
    List<String> stop = new ArrayList<>();
    p.path("stop").forEach(s -> stop.add(s.asText()));
    SamplingParams params = new SamplingParams(maxNew, sample ? p.path("temperature").asDouble(1.0) : 0.0,
        sample ? p.path("top_p").asDouble(1.0) : 1.0, sample ? p.path("top_k").asInt(0) : 0,
        p.path("repetition_penalty").asDouble(1.0), p.path("seed").asLong(0), stop);
    Seq seq;
    synchronized (lock) {
      if (waiting.size() >= o.jobQueueSize) {
        rejectedFull++;
        seq = null;
      } else {
        CompletableFuture<Completion> generation;
        if (o.responder != null) {
          String text = o.responder.apply(prompt);
          generation = CompletableFuture.completedFuture(new Completion(text, ids.length, Math.max(1, tokenizer.encode(text).length),
              "stop", 0));
        } else {
          generation = o.synthetic
              ? CompletableFuture.completedFuture(new Completion("x".repeat(maxNew), ids.length, maxNew, "length", 0))
              : llama.submit(new CompletionRequest("standin-" + requestIds.incrementAndGet(), prompt, ids, params));
        }
        seq = new Seq(generation, ids.length, maxNew);
        waiting.addLast(seq);
        if (!measuring) {
          measuring = true; // the measured window opens with the first request
        }
        lastArrivalStep = steps;
      }
    }
    if (seq == null) {
      send(ex, 503, error(503, "Worker queue capacity exceeded"));
      return false;
    }
    Seq queued = seq;
    seq.done.whenComplete((step, failure) -> {
      try {
        handlers.execute(() -> {
          try (ex) {
            answer(ex, body, openai, stop, queued, failure == null ? step : -1);
          } catch (IOException | RuntimeException e) {
            // the client went away: nothing to answer
          }
        });
      } catch (RejectedExecutionException e) {
        ex.close(); // the stand-in is closing
      }
    });
    return true;
  }

  private void answer(HttpExchange ex, JsonNode body, boolean openai, List<String> stop, Seq seq, int step) throws IOException {
    if (step < 0) {
      Throwable cause = seq.generation.handle((c, t) -> t).join();
      send(ex, 424, error(424, "generation failed: " + (cause == null ? "?" : cause.getMessage())));
      return;
    }
    Completion c = seq.generation.join();
    String finish = c.finishReason().equals("length") ? "length" : stop.isEmpty() ? "eos_token" : "stop_sequence";
    ObjectNode out = JSON.createObjectNode();
    if (openai) {
      out.put("id", "cmpl-" + requestIds.get());
      out.put("object", "text_completion");
      out.put("created", System.currentTimeMillis() / 1000);
      out.put("model", body.path("model").asText(o.modelName));
      ObjectNode choice = out.putArray("choices").addObject();
      choice.put("index", 0);
      choice.put("text", c.text());
      choice.putNull("logprobs");
      if (o.nullFinishReason) {
        choice.putNull("finish_reason");
      } else {
        choice.put("finish_reason", finish.equals("length") ? "length" : "stop");
      }
      ObjectNode usage = out.putObject("usage");
      usage.put("prompt_tokens", seq.promptTokens);
      usage.put("completion_tokens", c.completionTokens());
      usage.put("total_tokens", seq.promptTokens + c.completionTokens());
      if (o.reportCachedTokens && c.cachedTokens() != null) {
        usage.putObject("prompt_tokens_details").put("cached_tokens", c.cachedTokens());
      }
    } else {
      out.put("generated_text", c.text());
      ObjectNode details = out.putObject("details");
      if (o.nullFinishReason) {
        details.putNull("finish_reason");
      } else {
        details.put("finish_reason", finish);
      }
      details.put("generated_tokens", c.completionTokens());
      details.putArray("tokens");
    }
    send(ex, 200, out.toString());
  }

  private static String error(int code, String message) {
    ObjectNode n = JSON.createObjectNode();
    n.put("code", code);
    n.put("type", code == 503 ? "ServiceUnavailableException" : code == 400 ? "BadRequestException" : "ModelException");
    n.put("message", message);
    return n.toString();
  }

  private static void send(HttpExchange ex, int status, String json) throws IOException {
    byte[] b = json.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, b.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(b);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    scheduler.shutdownNow();
    handlers.shutdownNow();
  }
}
