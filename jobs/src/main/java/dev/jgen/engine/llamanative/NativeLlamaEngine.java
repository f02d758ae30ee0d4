package dev.jgen.engine.llamanative;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.structured.Gbnf;
import dev.jgen.structured.OutputConstraint;
import dev.jgen.engine.EngineInfo;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * The native CPU engine: llama.cpp compiled on this machine for its instruction set ({@code bin/build-native}),
 * driven through {@link LlamaServerProcess}. One server process per executor JVM; every task's requests go to it
 * and it batches them.
 */
public final class NativeLlamaEngine implements Engine {
  private final LlamaServerProcess server;
  private final int parallel;
  private final EngineInfo info;
  /** The generation window as the engine sees it: first request sent, last reply read (System.nanoTime; 0: none). */
  private final java.util.concurrent.atomic.AtomicLong firstSubmitNanos = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong lastReplyNanos = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.LongAdder answered = new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder promptTokens = new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder completionTokens = new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder cachedTokens = new java.util.concurrent.atomic.LongAdder();
  /** The server's LoRA adapters by file, each with its index in the server's --lora order. */
  private final java.util.Map<String, Integer> adapterIndex = new java.util.HashMap<>();

  /** Starts the server; {@code command} is the binary followed by its arguments. */
  public NativeLlamaEngine(List<String> command, int parallel) {
    this(command, parallel, java.time.Duration.ofSeconds(NativeLlamaEngineProvider.DEFAULT_LOAD_TIMEOUT_S));
  }

  /**
   * @param loadTimeout how long the model may take to load; a server lost later (killed, crashed, broke the protocol)
   *     takes this engine out of the {@link dev.jgen.engine.EngineRegistry}, so the next load starts a new one
   */
  public NativeLlamaEngine(List<String> command, int parallel, java.time.Duration loadTimeout) {
    this(command, parallel, loadTimeout, List.of());
  }

  /** @param adapterPaths the files of the server's {@code --lora} adapters, in the command's order */
  public NativeLlamaEngine(List<String> command, int parallel, java.time.Duration loadTimeout, List<String> adapterPaths) {
    for (String p : adapterPaths) {
      adapterIndex.putIfAbsent(p, adapterIndex.size());
    }
    long start = System.nanoTime();
    this.server = new LlamaServerProcess(command, loadTimeout);
    this.server.onLost(() -> dev.jgen.engine.EngineRegistry.discard(this));
    this.parallel = parallel;
    long loadMillis = (System.nanoTime() - start) / 1_000_000;
    this.info = new EngineInfo("llamacpp", version(server), UUID.randomUUID().toString(), loadMillis);
  }

  static String version(LlamaServerProcess server) {
    return "jgen-llama-server native (llama.cpp " + NativeBuild.llamaCommit() + " from " + NativeBuild.SOURCE_VERSION
        + "; threads " + server.ready().get("threads") + ", parallel " + server.ready().get("parallel") + ", kv "
        + server.ready().get("kv_size") + ", prefix cache " + ("1".equals(server.ready().get("prefix_cache")) ? "on" : "off")
        + ")";
  }

  public LlamaServerProcess server() {
    return server;
  }

  @Override
  public EngineInfo info() {
    return info;
  }

  /**
   * The output constraint as the server's request carries it: a JSON schema as it is (the server converts it with
   * llama.cpp's own json-schema-to-grammar, in its process: no llama.cpp code runs in the executor JVM), a choice as an
   * alternation of literals, a grammar as it is; null for none.
   */
  static LlamaServerProcess.Constraint constraintOf(OutputConstraint c) {
    if (c == null) {
      return null;
    }
    return switch (c.kind()) {
      case JSON_SCHEMA -> LlamaServerProcess.Constraint.jsonSchema(c.text());
      case GRAMMAR -> LlamaServerProcess.Constraint.grammar(c.text());
      case CHOICE -> LlamaServerProcess.Constraint.grammar(Gbnf.forChoices(c.choices()));
    };
  }

  @Override
  public int capacity() {
    return parallel;
  }

  @Override
  public CompletableFuture<Completion> submit(CompletionRequest request) {
    if (request.promptTokenIds() == null) {
      return CompletableFuture.failedFuture(
          new EngineException("llama.cpp is fed Hugging Face token ids, and this model has no tokenizer.json"));
    }
    int adapter = -1;
    if (request.adapter() != null) {
      Integer i = adapterIndex.get(request.adapter().path());
      if (i == null) {
        // The job lists every configured adapter in the spec: a request naming another one is our bug, not the row's.
        return CompletableFuture.failedFuture(new EngineException("the LoRA adapter " + request.adapter().name() + " ("
            + request.adapter().path() + ") was not loaded by this engine (option lora_paths: " + adapterIndex.keySet() + ")"));
      }
      adapter = i;
    }
    long start = System.nanoTime();
    firstSubmitNanos.compareAndSet(0, start);
    LlamaServerProcess.Pending reply = server.generate(request.promptTokenIds(), request.params(), constraintOf(request.constraint()),
        adapter, request.adapter() == null ? 0 : request.adapter().scale());
    CompletableFuture<Completion> result = new CompletableFuture<>() {
      @Override
      public boolean cancel(boolean mayInterruptIfRunning) {
        // Cancelling the row cancels its sequence in the server: the slot and its KV cells go to the next row.
        reply.cancel(mayInterruptIfRunning);
        return super.cancel(mayInterruptIfRunning);
      }
    };
    reply.whenComplete((r, e) -> {
      if (e != null) {
        result.completeExceptionally(e);
      } else {
        long now = System.nanoTime();
        lastReplyNanos.accumulateAndGet(now, Math::max);
        answered.increment();
        promptTokens.add(r.promptTokens());
        completionTokens.add(r.completionTokens());
        cachedTokens.add(r.cachedTokens());
        result.complete(new Completion(r.text(), r.promptTokens(), r.completionTokens(), r.finishReason(),
            (now - start) / 1_000_000, r.cachedTokens()));
      }
    });
    return result;
  }

  /**
   * This engine's generation window: from the first request sent to the last answer read, prompt processing included,
   * model load excluded (the measure llama-batched-bench reports as its total time), with the tokens answered in it.
   * Gaps where the job had nothing in flight count too: the window is what the executor's cores spent generating.
   */
  @Override
  public java.util.Map<String, Double> serverMetrics() {
    long first = firstSubmitNanos.get();
    long last = lastReplyNanos.get();
    if (first == 0 || last <= first) {
      return java.util.Map.of();
    }
    double window = (last - first) / 1e9;
    java.util.Map<String, Double> m = new java.util.TreeMap<>(java.util.Map.of("answered", (double) answered.sum(),
        "prompt_tokens", (double) promptTokens.sum(), "completion_tokens", (double) completionTokens.sum(),
        "generation_window_s", window, "completion_tokens_per_s", completionTokens.sum() / window,
        "cached_tokens", (double) cachedTokens.sum()));
    long hwm = peakRssKb(server.pid());
    if (hwm > 0) {
      m.put("peak_rss_mb", hwm / 1024.0);
    }
    return m;
  }

  /**
   * The server process's peak resident set (the kernel's VmHWM, kB), or 0 where /proc does not tell (not Linux, or the
   * process is gone): the engine's own memory, which the JVM's figures never include.
   */
  static long peakRssKb(long pid) {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not on Linux, or the process ended: the figure is left out
    }
    return 0;
  }

  @Override
  public boolean isAlive() {
    return server.isAlive();
  }

  @Override
  public void close() {
    server.close();
  }
}
