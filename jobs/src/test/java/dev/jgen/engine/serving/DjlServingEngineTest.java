package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.testing.djl.DjlServingStandIn;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** The client on its own: request shape, parsing, routing, retries and failures, against the stand-in. */
class DjlServingEngineTest {
  private static final SamplingParams SAMPLE = new SamplingParams(8, 0.7, 0.9, 40, 1.05, 7, List.of());
  private static final SamplingParams GREEDY = new SamplingParams(5, 0.0, 1.0, 0, 1.0, 7, List.of("。"));

  static EngineSpec spec(String endpoints, String... kv) {
    Map<String, String> o = new HashMap<>(Map.of("mode", "endpoint", "endpoints", endpoints, "bos_text", "<s>",
        "max_rolling_batch_size", "4", "retry_base_ms", "10"));
    for (int i = 0; i < kv.length; i += 2) {
      o.put(kv[i], kv[i + 1]);
    }
    return new EngineSpec("djl-serving", "tiny-llama-ja", o);
  }

  static ServingEngine djl(EngineSpec spec) {
    return new ServingEngine(spec, ServerKind.DJL);
  }

  static CompletionRequest request(String prompt, SamplingParams p) {
    return new CompletionRequest("t/" + prompt.hashCode(), prompt, new int[] {1, 2, 3}, p);
  }

  @Test
  void providerIsFoundByKind() {
    assertEquals("djl-serving", EngineRegistry.provider("djl-serving").kind());
  }

  @Test
  void requestBodyStripsBosAndAlwaysSendsMaxNewTokens() {
    ServingEngine e = djl(spec("http://127.0.0.1:1"));
    try {
      ObjectNode b = e.requestBody(request("<s>こんにちは<s>", SAMPLE));
      assertEquals("こんにちは<s>", b.get("inputs").asText(), "only the leading BOS text goes");
      ObjectNode p = (ObjectNode) b.get("parameters");
      assertEquals(8, p.get("max_new_tokens").asInt());
      assertTrue(p.get("do_sample").asBoolean());
      assertEquals(0.7, p.get("temperature").asDouble());
      assertEquals(40, p.get("top_k").asInt());
      assertEquals(7, p.get("seed").asLong());
      assertTrue(p.get("details").asBoolean());
      assertFalse(p.get("return_full_text").asBoolean());
      ObjectNode g = (ObjectNode) e.requestBody(request("x", GREEDY)).get("parameters");
      assertFalse(g.get("do_sample").asBoolean());
      assertFalse(g.has("temperature"));
      assertEquals(5, g.get("max_new_tokens").asInt());
      assertEquals("。", g.get("stop").get(0).asText());
      assertEquals(5, e.capacity(), "max_rolling_batch_size 4 plus a quarter (at least one)");
    } finally {
      e.close();
    }
  }

  @Test
  void finishReasons() {
    assertEquals("stop", WireProtocol.finishReason("eos_token", 3, 8));
    assertEquals("stop", WireProtocol.finishReason("stop_sequence", 3, 8));
    assertEquals("length", WireProtocol.finishReason("length", 8, 8));
    assertEquals("length", WireProtocol.finishReason(null, 8, 8));
    assertEquals("stop", WireProtocol.finishReason(null, 3, 8));
  }

  @Test
  void routesByTaskGpuAddressElseLeastLoaded() {
    ServingEngine e = djl(spec("http://127.0.0.1:1,http://127.0.0.1:2/", "window", "3"));
    try {
      List<Endpoint> s = e.servers();
      assertEquals(6, e.capacity(), "window per server times servers");
      assertSame(s.get(1), e.route(new String[] {"1"}));
      assertSame(s.get(1), e.route(new String[] {"3"}), "address modulo the URL count");
      assertSame(s.get(0), e.route(new String[] {"2"}));
      assertTrue(s.contains(e.route(new String[0])));
      assertEquals("http://127.0.0.1:2", s.get(1).base.toString());
    } finally {
      e.close();
    }
  }

  @Test
  void generatesThroughInvocationsAndOpenAi() throws Exception {
    DjlServingStandIn.Options o = new DjlServingStandIn.Options();
    o.batch = 2;
    o.stepMillis = 2;
    o.nullFinishReason = true; // as TensorRT-LLM's async path often answers
    try (DjlServingStandIn s = DjlServingStandIn.start(o)) {
      for (String api : List.of("invocations", "openai")) {
        ServingEngine e = djl(spec(s.url().toString(), "api", api));
        try {
          List<CompletableFuture<Completion>> fs = List.of(e.submit(request("<s>こんにちは", SAMPLE)),
              e.submit(request("<s>元気ですか", GREEDY)), e.submit(request("<s>日本", SAMPLE)));
          for (CompletableFuture<Completion> f : fs) {
            Completion c = f.get();
            assertTrue(c.completionTokens() > 0, api + ": " + c);
            assertEquals(3, c.promptTokens(), "the request's own token count");
            assertTrue(List.of("stop", "length").contains(c.finishReason()), c.toString());
          }
          assertTrue(e.info().version().contains(api.equals("openai") ? "/v1/completions" : "/invocations"));
        } finally {
          e.close();
        }
      }
      assertTrue(s.received().stream().anyMatch(q -> q.path().equals("/v1/completions")
          && q.body().get("max_tokens").asInt() == 8 && q.body().get("prompt").asText().equals("こんにちは")));
    }
  }

  @Test
  void clientErrorsFailAtOnceWithTheServersMessage() throws Exception {
    DjlServingStandIn.Options o = new DjlServingStandIn.Options();
    o.maxInputLen = 2;
    o.stepMillis = 2;
    try (DjlServingStandIn s = DjlServingStandIn.start(o)) {
      ServingEngine e = djl(spec(s.url().toString()));
      try {
        ExecutionException x = assertThrows(ExecutionException.class,
            () -> e.submit(request("<s>とても長いプロンプトです", SAMPLE)).get());
        assertTrue(x.getCause() instanceof EngineException);
        assertTrue(x.getCause().getMessage().contains("HTTP 400") && x.getCause().getMessage().contains("max_input_len"),
            x.getCause().getMessage());
        assertEquals(1, s.received().size(), "a 400 is not retried");
      } finally {
        e.close();
      }
    }
  }

  /**
   * A server that accepts and closes every connection without answering. Its socket stays bound for the whole test, so
   * no other process can take the port meanwhile (a port found free and released would race on a loaded machine).
   */
  static ServerSocket dropping() throws java.io.IOException {
    ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(() -> {
      while (!ss.isClosed()) {
        try {
          ss.accept().close();
        } catch (java.io.IOException e) {
          // closed: the test is over
        }
      }
    }, "dropping-server");
    t.setDaemon(true);
    t.start();
    return ss;
  }

  @Test
  void droppedConnectionsAreRetriedThenFail() throws Exception {
    try (ServerSocket ss = dropping()) {
      ServingEngine e = djl(spec("http://127.0.0.1:" + ss.getLocalPort(), "retries", "2"));
      try {
        long start = System.nanoTime();
        ExecutionException x = assertThrows(ExecutionException.class, () -> e.submit(request("x", SAMPLE)).get());
        String m = x.getCause().getMessage();
        assertTrue(m.contains("Exception") && m.contains("after 3 attempts"), m);
        assertEquals(3, e.servers().get(0).sent.get());
        assertTrue(System.nanoTime() - start >= 10_000_000L, "backed off between attempts");
      } finally {
        e.close();
      }
    }
  }

  @Test
  void serviceUnavailableIsRetriedAndTheWindowIsNeverExceeded() throws Exception {
    DjlServingStandIn.Options o = new DjlServingStandIn.Options();
    o.batch = 3;
    o.stepMillis = 2;
    o.share503 = 0.4;
    try (DjlServingStandIn s = DjlServingStandIn.start(o)) {
      ServingEngine e = djl(spec(s.url().toString(), "window", "3", "retries", "8"));
      try {
        List<CompletableFuture<Completion>> fs = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
          fs.add(e.submit(request("<s>質問" + i, new SamplingParams(4, 0.7, 0.9, 0, 1.0, i, List.of()))));
        }
        for (CompletableFuture<Completion> f : fs) {
          assertTrue(f.get().completionTokens() > 0);
        }
        assertTrue(s.metrics().injected503() > 0);
        assertTrue(s.metrics().maxInFlight() <= 3, s.metrics().toString());
        assertEquals(0, e.servers().get(0).inFlight());
      } finally {
        e.close();
      }
    }
  }
}
