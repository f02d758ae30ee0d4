package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.testing.djl.DjlServingStandIn;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The trtllm-serve kind in endpoint mode, cancellation, exact token accounting and server metrics. */
class ServingEngineTest {
  static EngineSpec trtllm(String endpoints, String... kv) {
    Map<String, String> o = new HashMap<>(Map.of("mode", "endpoint", "endpoints", endpoints, "bos_text", "<s>",
        "max_batch_size", "4", "retry_base_ms", "10"));
    for (int i = 0; i < kv.length; i += 2) {
      o.put(kv[i], kv[i + 1]);
    }
    return new EngineSpec("trtllm-serve", "/models/tiny", o);
  }

  static CompletionRequest request(String id, String prompt, int maxNew) {
    return new CompletionRequest(id, prompt, new int[] {1, 2, 3}, new SamplingParams(maxNew, 0.7, 0.9, 0, 1.0, id.hashCode(), List.of()));
  }

  @Test
  void trtllmServeIsFoundByKindAndSpeaksOpenAi() {
    assertEquals("trtllm-serve", EngineRegistry.provider("trtllm-serve").kind());
    ServingEngine e = new ServingEngine(trtllm("http://127.0.0.1:1", "api", "invocations"), ServerKind.TRTLLM);
    try {
      assertEquals("/v1/completions", e.wire().path(), "trtllm-serve has no /invocations, whatever api says");
      var b = e.requestBody(request("a", "<s>こんにちは", 7));
      assertEquals("こんにちは", b.get("prompt").asText());
      assertEquals(7, b.get("max_tokens").asInt());
      assertEquals("/models/tiny", b.get("model").asText(), "trtllm-serve names the model by its path");
      assertEquals(5, e.capacity(), "the window defaults to max_batch_size (4) plus a quarter, at least one: queued at the server");
      assertEquals(160, ServingEngine.defaultWindow(128));
      assertTrue(e.info().version().startsWith("trtllm-serve /v1/completions"), e.info().version());
    } finally {
      e.close();
    }
  }

  /** Endpoint mode on the OpenAI wire with 503s and dropped connections: every request ends once, ok or error. */
  @Test
  void serviceUnavailableAndDroppedConnectionsEndAsOkOrErrorNoneLost() throws Exception {
    DjlServingStandIn.Options o = new DjlServingStandIn.Options();
    o.batch = 4;
    o.stepMillis = 2;
    o.share503 = 0.3;
    o.shareDropped = 0.1;
    try (DjlServingStandIn s = DjlServingStandIn.start(o)) {
      ServingEngine e = new ServingEngine(trtllm(s.url().toString(), "retries", "1"), ServerKind.TRTLLM);
      try {
        List<CompletableFuture<Completion>> fs = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
          fs.add(e.submit(request("r" + i, "<s>質問" + i, 5)));
        }
        int ok = 0;
        int error = 0;
        for (CompletableFuture<Completion> f : fs) {
          try {
            Completion c = f.get(120, TimeUnit.SECONDS);
            assertTrue(c.completionTokens() > 0 && c.completionTokens() <= 5, c.toString());
            ok++;
          } catch (ExecutionException x) {
            String m = x.getCause().getMessage();
            assertTrue(m.startsWith("trtllm-serve at " + s.url()) && (m.contains("HTTP 503") || m.contains("Exception")), m);
            error++;
          }
        }
        assertEquals(40, ok + error);
        assertTrue(ok > 0);
        DjlServingStandIn.Metrics m = s.metrics();
        assertTrue(m.injected503() > 0 && m.dropped() > 0, m.toString());
        Set<String> prompts = new HashSet<>();
        s.received().forEach(q -> prompts.add(q.body().get("prompt").asText()));
        assertEquals(40, prompts.size(), "every row reached the server");
        assertTrue(s.received().size() > 40, "failed calls were retried");
        assertTrue(s.received().size() <= 80, "at most one retry each: " + s.received().size());
        assertEquals(0, e.servers().get(0).inFlight());
      } finally {
        e.close();
      }
    }
  }

  /** Issue 17: the completion tokens and finish reason are the server's (usage / details), never counted here. */
  @Test
  void completionTokensAndFinishReasonsAreTheServersOwn() throws Exception {
    String openai = "{\"choices\":[{\"index\":0,\"text\":\"😀\",\"finish_reason\":\"stop\"}],"
        + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}";
    Completion c = new OpenAiCompletionsWire().parse(openai, new CompletionRequest("x", "p", null,
        new SamplingParams(8, 0, 1, 0, 1, 1, List.of())), 5);
    assertEquals(4, c.completionTokens(), "one emoji, four byte-fallback tokens: the server's count");
    assertEquals(9, c.promptTokens(), "the server's prompt count when no ids travelled");
    assertEquals("stop", c.finishReason());
    String djl = "{\"generated_text\":\"abc\",\"details\":{\"finish_reason\":\"length\",\"generated_tokens\":8}}";
    Completion d = new DjlInvocationsWire().parse(djl, request("y", "p", 8), 5);
    assertEquals(8, d.completionTokens());
    assertEquals("length", d.finishReason());
    assertEquals(3, d.promptTokens(), "the request's own token ids win");
    String eos = "{\"generated_text\":\"abc\",\"details\":{\"finish_reason\":\"eos_token\",\"generated_tokens\":3}}";
    assertEquals("stop", new DjlInvocationsWire().parse(eos, request("z", "p", 8), 5).finishReason());
    assertTrue(new DjlInvocationsWire().body(request("z", "p", 8), "p", "m").path("parameters").path("details").asBoolean(),
        "DJL sends details only when asked");
  }

  @Test
  void prometheusTextFoldsIntoFigures() {
    Map<String, Double> m = ServerMetrics.prometheus("""
        # HELP vllm:num_requests_running Number of requests running.
        # TYPE vllm:num_requests_running gauge
        vllm:num_requests_running{model_name="m"} 7.0
        vllm:generation_tokens_total{model_name="m"} 1200
        vllm:request_queue_time_seconds_bucket{le="0.5",model_name="m"} 3
        vllm:request_queue_time_seconds_sum{model_name="m"} 1.5
        vllm:request_queue_time_seconds_count{model_name="m"} 3
        vllm:request_success_total{finished_reason="stop",model_name="m"} 2
        vllm:request_success_total{finished_reason="length",model_name="m"} 1
        """);
    assertEquals(7.0, m.get("vllm.num_requests_running"));
    assertEquals(1200.0, m.get("vllm.generation_tokens_total"));
    assertEquals(0.5, m.get("vllm.request_queue_time_seconds_mean"), 1e-9);
    assertEquals(3.0, m.get("vllm.request_success_total"), "label sets summed");
    assertFalse(m.keySet().stream().anyMatch(k -> k.endsWith("_bucket")));
  }

  @Test
  void serverMetricsReadPrometheusFromTheServerAndSurviveClose() throws Exception {
    DjlServingStandIn.Options o = new DjlServingStandIn.Options();
    o.batch = 2;
    o.stepMillis = 2;
    o.metricsFormat = "prometheus";
    try (DjlServingStandIn s = DjlServingStandIn.start(o)) {
      ServingEngine e = new ServingEngine(DjlServingEngineTest.spec(s.url().toString(), "api", "openai"), ServerKind.DJL);
      List<CompletableFuture<Completion>> fs = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        fs.add(e.submit(request("m" + i, "<s>日本" + i, 4)));
      }
      long tokens = 0;
      for (var f : fs) {
        tokens += f.get().completionTokens();
      }
      e.close();
      Map<String, Double> m = e.serverMetrics(); // read before close stopped anything
      assertEquals(4.0, m.get("client.requests_sent"), m.toString());
      assertEquals((double) tokens, m.get("vllm.generation_tokens_total"), "the server's own count: " + m);
    }
  }

  /**
   * A server that reads each request and never answers, reporting every request it read and every connection the client
   * closed: enough to see a queued request never sent and an in-flight one aborted.
   */
  static final class SilentServer implements AutoCloseable {
    final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    final LinkedBlockingQueue<String> requests = new LinkedBlockingQueue<>();
    final LinkedBlockingQueue<String> closed = new LinkedBlockingQueue<>();

    SilentServer() throws IOException {
      Thread t = new Thread(() -> {
        while (!socket.isClosed()) {
          try {
            Socket c = socket.accept();
            Thread h = new Thread(() -> serve(c));
            h.setDaemon(true);
            h.start();
          } catch (IOException e) {
            // closed
          }
        }
      });
      t.setDaemon(true);
      t.start();
    }

    private void serve(Socket c) {
      try (c; InputStream in = c.getInputStream()) {
        StringBuilder head = new StringBuilder();
        int len = -1;
        while (true) { // headers, byte by byte (small requests)
          int b = in.read();
          if (b < 0) {
            return;
          }
          head.append((char) b);
          if (head.toString().endsWith("\r\n\r\n")) {
            for (String line : head.toString().split("\r\n")) {
              if (line.toLowerCase().startsWith("content-length:")) {
                len = Integer.parseInt(line.substring(15).trim());
              }
            }
            break;
          }
        }
        String body = new String(in.readNBytes(Math.max(0, len)), StandardCharsets.UTF_8);
        requests.add(body);
        while (in.read() >= 0) {
          // the client sends nothing more; EOF (or a reset) means it closed the connection
        }
        closed.add(body);
      } catch (IOException e) {
        closed.add("reset");
      }
    }

    int port() {
      return socket.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** Issue 12: cancelling a row's future takes it out of the queue, or aborts its HTTP exchange and frees its slot. */
  @Test
  void cancellingRemovesQueuedRequestsAndAbortsInFlightOnes() throws Exception {
    try (SilentServer server = new SilentServer()) {
      ServingEngine e = new ServingEngine(trtllm("http://127.0.0.1:" + server.port(), "window", "1", "retries", "0"),
          ServerKind.TRTLLM);
      try {
        Endpoint ep = e.servers().get(0);
        CompletableFuture<Completion> a = e.submit(request("a", "<s>first", 4));
        String gotA = server.requests.poll(60, TimeUnit.SECONDS);
        assertTrue(gotA != null && gotA.contains("first"), "the first request is in flight: " + gotA);
        CompletableFuture<Completion> b = e.submit(request("b", "<s>second", 4));
        assertEquals(1, ep.queued(), "the window of 1 is full: the second waits");
        assertEquals(1, ep.inFlight());

        assertTrue(b.cancel(true));
        assertEquals(0, ep.queued(), "a cancelled request leaves the queue");

        assertTrue(a.cancel(true));
        String closedA = server.closed.poll(60, TimeUnit.SECONDS);
        assertTrue(closedA != null && (closedA.contains("first") || closedA.equals("reset")),
            "the in-flight exchange was aborted: its connection closed (" + closedA + ")");

        // The window is free again: the next request goes out, and the cancelled one never did.
        CompletableFuture<Completion> c = e.submit(request("c", "<s>third", 4));
        String next = server.requests.poll(60, TimeUnit.SECONDS);
        assertTrue(next != null && next.contains("third"), "the freed slot took the next request, not the cancelled one: " + next);
        assertEquals(0, ep.queued());
        c.cancel(true);
        assertTrue(server.requests.isEmpty(), "nothing else was sent: " + server.requests);
      } finally {
        e.close();
      }
    }
  }
}
