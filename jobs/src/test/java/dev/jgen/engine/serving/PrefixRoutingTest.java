package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.PromptPrefix;
import dev.jgen.engine.SamplingParams;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Issue 28 item 3: when tasks are not pinned to a GPU, the requests of one prompt prefix go to one server (its prefix
 * cache holds the prefix), as long as that server is not more than a quarter window busier than the least loaded one.
 */
class PrefixRoutingTest {
  private static int[] tokens(int prefix, int row) {
    int[] ids = new int[40];
    for (int i = 0; i < 32; i++) {
      ids[i] = 1000 * prefix + i; // the shared block
    }
    for (int i = 32; i < 40; i++) {
      ids[i] = 7 * row + i;
    }
    return ids;
  }

  /** Two prefixes whose hashes name different servers of two. */
  private static int[] twoPrefixesOnDifferentServers() {
    for (int a = 1; a < 100; a++) {
      for (int b = a + 1; b < 100; b++) {
        if (Math.floorMod(PromptPrefix.hash(tokens(a, 0), 32), 2) != Math.floorMod(PromptPrefix.hash(tokens(b, 0), 32), 2)) {
          return new int[] {a, b};
        }
      }
    }
    throw new AssertionError("no two prefixes on different servers");
  }

  @Test
  void aPrefixStaysOnItsServerUntilItIsAQuarterWindowBusierThanTheOther() {
    Endpoint a = new Endpoint(URI.create("http://127.0.0.1:1/"), List.of(), 8);
    Endpoint b = new Endpoint(URI.create("http://127.0.0.1:2/"), List.of(), 8);
    Router router = new Router(List.of(a, b));
    long hash = PromptPrefix.hash(tokens(1, 0), 32);
    Endpoint home = router.route(new String[0], hash);
    Endpoint other = home == a ? b : a;
    for (int i = 0; i < 20; i++) {
      assertEquals(home, router.route(new String[0], hash), "idle servers: the prefix's own server every time");
    }
    // Requests held in flight (never released): the home server takes the prefix until it is slack (2) busier.
    List<Endpoint> chosen = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      Endpoint e = router.route(new String[0], hash);
      e.enqueue(() -> { }, 0);
      chosen.add(e);
      assertTrue(home.load() <= other.load() + Router.slack(home) + 1, "bounded: " + home.load() + " vs " + other.load());
    }
    long atHome = chosen.stream().filter(e -> e == home).count();
    assertTrue(atHome >= 7 && atHome < 12, "the home server takes most, the other is not starved: " + atHome + " of 12");
    // With routing by prefix off, the same load goes to the least loaded server.
    assertEquals(other, router.route(new String[0], Router.NO_PREFIX));
  }

  /** Two real HTTP servers speaking OpenAI /v1/completions, recording which prefix each request carried. */
  @Test
  void rowsOfOnePrefixReachOneServer() throws Exception {
    int[] prefixes = twoPrefixesOnDifferentServers();
    Map<Integer, Set<String>> seenBy = new ConcurrentHashMap<>();
    List<HttpServer> servers = new ArrayList<>();
    // the prompt text names its prefix: "p<prefix> ..."
    String endpoints = twoServers(servers, (server, body) -> seenBy.computeIfAbsent(server, k -> ConcurrentHashMap.newKeySet())
        .add(body.replaceAll("(?s).*\"prompt\"\\s*:\\s*\"(p\\d+) .*", "$1")));
    ServingEngine engine = new ServingEngine(ServingEngineTest.trtllm(endpoints, "max_batch_size", "16",
        "prefix_route_tokens", "32"), ServerKind.TRTLLM);
    try {
      // Interleaved, one at a time: no server is ever busier than the other, so each prefix always goes home (with
      // several in flight, the bound above decides, and a burst may spill over).
      for (int row = 0; row < 12; row++) {
        for (int p : prefixes) {
          CompletableFuture<Completion> f = engine.submit(new CompletionRequest("r" + p + "-" + row, "<s>p" + p + " row " + row,
              tokens(p, row), new SamplingParams(4, 0.0, 1.0, 0, 1.0, 1, List.of()), null));
          assertEquals("ok", f.get(30, TimeUnit.SECONDS).text());
        }
      }
      assertEquals(2, seenBy.size(), "both servers used: " + seenBy);
      for (Map.Entry<Integer, Set<String>> e : seenBy.entrySet()) {
        assertEquals(1, e.getValue().size(), "server " + e.getKey() + " saw one prefix only: " + seenBy);
      }
    } finally {
      engine.close();
      for (HttpServer s : servers) {
        s.stop(0);
      }
    }
  }

  /** Issue 31: one prompt prefix under two adapters is two prefixes: each adapter's rows reach one server. */
  @Test
  void rowsOfOneAdapterReachOneServer() throws Exception {
    String[] names = null;
    for (int a = 0; a < 50 && names == null; a++) {
      for (int b = a + 1; b < 50 && names == null; b++) {
        if (Math.floorMod(PromptPrefix.hash(tokens(1, 0), 32, "lora" + a), 2) != Math.floorMod(PromptPrefix.hash(tokens(1, 0), 32, "lora" + b), 2)) {
          names = new String[] {"lora" + a, "lora" + b};
        }
      }
    }
    assertTrue(names != null, "two adapter names on different servers");
    Map<Integer, Set<String>> seenBy = new ConcurrentHashMap<>();
    List<HttpServer> servers = new ArrayList<>();
    String endpoints = twoServers(servers, (server, body) -> {
      try {
        String adapter = new com.fasterxml.jackson.databind.ObjectMapper().readTree(body).path("lora_request").path("lora_name").asText();
        seenBy.computeIfAbsent(server, k -> ConcurrentHashMap.newKeySet()).add(adapter);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    ServingEngine engine = new ServingEngine(ServingEngineTest.trtllm(endpoints, "prefix_route_tokens", "32"),
        ServerKind.TRTLLM);
    try {
      for (int row = 0; row < 8; row++) {
        for (int i = 0; i < 2; i++) {
          dev.jgen.engine.LoraAdapter adapter = new dev.jgen.engine.LoraAdapter(names[i], i, "/adapters/" + names[i], 1.0, "0".repeat(64));
          CompletableFuture<Completion> f = engine.submit(new CompletionRequest("r" + i + "-" + row, "<s>p1 row " + row,
              tokens(1, row), new SamplingParams(4, 0.0, 1.0, 0, 1.0, 1, List.of()), null, adapter));
          assertEquals("ok", f.get(30, TimeUnit.SECONDS).text());
        }
      }
      assertEquals(2, seenBy.size(), "both servers used: " + seenBy);
      for (Map.Entry<Integer, Set<String>> e : seenBy.entrySet()) {
        assertEquals(1, e.getValue().size(), "server " + e.getKey() + " saw one adapter only: " + seenBy);
      }
    } finally {
      engine.close();
      for (HttpServer s : servers) {
        s.stop(0);
      }
    }
  }

  /**
   * Two OpenAI /v1/completions stand-ins on 127.0.0.1 that answer "ok" and hand each request's body to
   * {@code onBody(server index, body)}; returns their URLs, comma-joined.
   */
  private static String twoServers(List<HttpServer> started, java.util.function.BiConsumer<Integer, String> onBody) throws IOException {
    StringBuilder endpoints = new StringBuilder();
    for (int s = 0; s < 2; s++) {
      int server = s;
      HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      http.createContext("/v1/completions", ex -> {
        onBody.accept(server, new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
        byte[] out = "{\"choices\":[{\"text\":\"ok\",\"finish_reason\":\"stop\"}],\"usage\":{\"completion_tokens\":1}}"
            .getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(200, out.length);
        ex.getResponseBody().write(out);
        ex.close();
      });
      http.start();
      started.add(http);
      endpoints.append(s == 0 ? "" : ",").append("http://127.0.0.1:").append(http.getAddress().getPort());
    }
    return endpoints.toString();
  }
}
