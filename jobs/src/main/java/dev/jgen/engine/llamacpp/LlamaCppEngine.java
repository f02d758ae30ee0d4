package dev.jgen.engine.llamacpp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import de.kherud.llama.JgenTaskAccess;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.LogFormat;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineInfo;
import dev.jgen.engine.SamplingParams;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The embedded CPU engine: llama.cpp through java-llama.cpp, on a GGUF file. llama.cpp runs its own server loop with
 * {@code parallel} slots and continuous batching; this class only feeds it token ids and waits, one waiting thread per
 * slot, so concurrent tasks of the executor are batched together.
 */
final class LlamaCppEngine implements Engine {
  static final String VERSION = "java-llama.cpp 4.2.0 (llama.cpp b4916)";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final LlamaModel model;
  private final int parallel;
  private final ExecutorService waiters;
  private final EngineInfo info;

  LlamaCppEngine(String ggufPath, int threads, int parallel, int ctxPerSequence) {
    this.parallel = parallel;
    long start = System.nanoTime();
    LlamaModel.setLogger(LogFormat.TEXT, (level, msg) -> {
      if (level == de.kherud.llama.LogLevel.ERROR) {
        System.err.print("llama.cpp: " + msg);
      }
    });
    ModelParameters params = new ModelParameters()
        .setModel(ggufPath)
        .setThreads(threads)
        .setThreadsBatch(threads)
        .setParallel(parallel)
        // Each slot gets ctx/parallel tokens of the context.
        .setCtxSize(ctxPerSequence * parallel)
        .setBatchSize(Math.min(2048, ctxPerSequence * parallel))
        .skipWarmup();
    try {
      this.model = new LlamaModel(params);
    } catch (RuntimeException e) {
      throw new EngineException("llama.cpp could not load " + ggufPath + ": " + e.getMessage(), e);
    }
    long loadMillis = (System.nanoTime() - start) / 1_000_000;
    AtomicInteger n = new AtomicInteger();
    this.waiters = Executors.newFixedThreadPool(parallel, r -> {
      Thread t = new Thread(r, "jgen-llamacpp-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.info = new EngineInfo("llamacpp", VERSION, UUID.randomUUID().toString(), loadMillis);
  }

  @Override
  public EngineInfo info() {
    return info;
  }

  @Override
  public int capacity() {
    return parallel;
  }

  @Override
  public CompletableFuture<Completion> submit(CompletionRequest request) {
    return CompletableFuture.supplyAsync(() -> run(request), waiters);
  }

  private Completion run(CompletionRequest request) {
    if (request.promptTokenIds() == null) {
      throw new EngineException("llama.cpp is fed Hugging Face token ids, and this model has no tokenizer.json");
    }
    String task = taskJson(request);
    long start = System.nanoTime();
    int taskId;
    try {
      taskId = JgenTaskAccess.request(model, task);
    } catch (IllegalStateException e) {
      throw new EngineException("llama.cpp refused the request: " + e.getMessage(), e);
    }
    // Streaming: one result per generated token (llama.cpp holds back partial UTF-8 and text that may still become a
    // stop string, which then arrives with a later token). Counting results therefore counts tokens only roughly;
    // the exact count comes from the final text below.
    StringBuilder text = new StringBuilder();
    int steps = 0;
    try {
      while (true) {
        LlamaOutput out = JgenTaskAccess.receive(model, taskId);
        text.append(out.text);
        if (JgenTaskAccess.isStop(out)) {
          break;
        }
        steps++;
      }
    } catch (IllegalStateException e) {
      throw new EngineException("llama.cpp failed during generation: " + e.getMessage(), e);
    } finally {
      JgenTaskAccess.release(model, taskId);
    }
    long latency = (System.nanoTime() - start) / 1_000_000;
    int completionTokens = steps;
    String finish = completionTokens >= request.params().maxNewTokens() ? "length" : "stop";
    return new Completion(text.toString(), request.promptTokenIds().length, completionTokens, finish, latency);
  }

  static String taskJson(CompletionRequest request) {
    SamplingParams p = request.params();
    ObjectNode o = JSON.createObjectNode();
    ArrayNode ids = o.putArray("prompt");
    for (int id : request.promptTokenIds()) {
      ids.add(id);
    }
    o.put("n_predict", p.maxNewTokens());
    o.put("temperature", p.temperature());
    o.put("top_p", p.topP());
    o.put("top_k", p.topK());
    o.put("min_p", 0.0);
    o.put("repeat_penalty", p.repetitionPenalty());
    o.put("seed", p.seed());
    o.put("stream", true);
    // Reusing one slot's cache across unrelated prompts only saves work for shared prefixes; results stay the same.
    o.put("cache_prompt", true);
    ArrayNode stop = o.putArray("stop");
    p.stop().forEach(stop::add);
    // Structured output (issue 13): json_schema or grammar, as llama.cpp's params_from_json_cmpl reads them.
    dev.jgen.structured.ServerEncodings.addToLlamaCppTask(o, request.constraint());
    return o.toString();
  }

  @Override
  public void close() {
    waiters.shutdownNow();
    model.close();
  }
}
