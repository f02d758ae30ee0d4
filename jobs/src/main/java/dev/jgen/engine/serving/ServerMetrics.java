package dev.jgen.engine.serving;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads the servers' {@code /metrics} into flat figures for the run summary. Two formats:
 * <ul>
 *   <li>{@code trtllm-serve}: a JSON array of per-iteration statistics (fields as in TensorRT-LLM's
 *       tests/unittest/llmapi/apps/_test_openai_metrics.py: {@code iterLatencyMS}, {@code numActiveRequests},
 *       {@code numQueuedRequests}, {@code newActiveRequestsQueueLatencyMS}, {@code maxBatchSizeStatic},
 *       {@code inflightBatchingStats.numGenRequests}, {@code kvCacheStats.{usedNumBlocks,maxNumBlocks,cacheHitRate}},
 *       ...). The server hands out each iteration once (the endpoint drains its queue), so figures accumulate here
 *       over every read. Needs {@code enable_iter_perf_stats: true} on the PyTorch backend, which launch mode writes.
 *   <li>Prometheus text (vLLM-based LMI, {@code vllm:*} families): every sample but histogram buckets, summed over
 *       label sets; {@code _sum}/{@code _count} pairs also give a {@code _mean}.
 * </ul>
 * Over several servers, totals ({@code _total}, {@code _sum}, {@code _count}, counts) add up and other figures are
 * averaged. The client's own counts ({@code client.*}) come along. A server that does not answer adds nothing.
 */
final class ServerMetrics {
  private final HttpClient http;
  private final String path;
  private final Map<Endpoint, TrtllmTotals> trtllm = new IdentityHashMap<>();

  ServerMetrics(HttpClient http, String path) {
    this.http = http;
    this.path = path;
  }

  /** Running sums of trtllm-serve's iteration statistics of one server. */
  static final class TrtllmTotals {
    long iterations;
    double iterLatencyMs;
    double active;
    double queued;
    double gen;
    double queueLatencyMs;
    double completed;
    double maxBatch;
    double kvUsedFractionMax;
    double kvHitRate = Double.NaN;

    void add(JsonNode it) {
      iterations++;
      iterLatencyMs += it.path("iterLatencyMS").asDouble(0);
      active += it.path("numActiveRequests").asDouble(0);
      queued += it.path("numQueuedRequests").asDouble(0);
      gen += it.path("inflightBatchingStats").path("numGenRequests").asDouble(0);
      queueLatencyMs += it.path("newActiveRequestsQueueLatencyMS").asDouble(0);
      completed += it.path("numCompletedRequests").asDouble(0);
      maxBatch = Math.max(maxBatch, it.path("maxBatchSizeStatic").asDouble(0));
      JsonNode kv = it.path("kvCacheStats");
      double max = kv.path("maxNumBlocks").asDouble(0);
      if (max > 0) {
        kvUsedFractionMax = Math.max(kvUsedFractionMax, kv.path("usedNumBlocks").asDouble(0) / max);
      }
      if (kv.has("cacheHitRate")) {
        kvHitRate = kv.path("cacheHitRate").asDouble();
      }
    }

    Map<String, Double> figures() {
      Map<String, Double> m = new TreeMap<>();
      if (iterations == 0) {
        return m;
      }
      m.put("trtllm.iterations", (double) iterations);
      m.put("trtllm.completed_requests", completed);
      m.put("trtllm.avg_active_requests", active / iterations);
      m.put("trtllm.avg_queued_requests", queued / iterations);
      m.put("trtllm.avg_iter_latency_ms", iterLatencyMs / iterations);
      m.put("trtllm.avg_queue_latency_ms", queueLatencyMs / iterations);
      if (maxBatch > 0) {
        m.put("trtllm.batch_occupancy", active / iterations / maxBatch);
      }
      if (iterLatencyMs > 0) {
        // one token per generating request per iteration (no speculative decoding)
        m.put("trtllm.gen_tokens_per_s", gen / (iterLatencyMs / 1000));
      }
      m.put("trtllm.kv_used_fraction_max", kvUsedFractionMax);
      if (!Double.isNaN(kvHitRate)) {
        m.put("trtllm.kv_cache_hit_rate", kvHitRate);
      }
      return m;
    }
  }

  /** Reads every server now and returns the combined figures. */
  synchronized Map<String, Double> read(List<Endpoint> servers) {
    Map<String, Double> sums = new TreeMap<>();
    Map<String, Integer> counts = new HashMap<>();
    long sent = 0;
    long retried = 0;
    long failed = 0;
    for (Endpoint e : servers) {
      sent += e.sent.get();
      retried += e.retried.get();
      failed += e.failed.get();
      Map<String, Double> one = readOne(e);
      one.forEach((k, v) -> {
        sums.merge(k, v, Double::sum);
        counts.merge(k, 1, Integer::sum);
      });
    }
    Map<String, Double> out = new TreeMap<>();
    sums.forEach((k, v) -> out.put(k, additive(k) ? v : v / counts.get(k)));
    out.put("client.servers", (double) servers.size());
    out.put("client.requests_sent", (double) sent);
    out.put("client.retries", (double) retried);
    out.put("client.failed", (double) failed);
    return out;
  }

  static boolean additive(String key) {
    return key.endsWith("_total") || key.endsWith("_sum") || key.endsWith("_count") || key.equals("trtllm.iterations")
        || key.equals("trtllm.completed_requests") || key.equals("trtllm.gen_tokens_per_s");
  }

  private Map<String, Double> readOne(Endpoint e) {
    String body;
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(e.base.resolve(path)).timeout(Duration.ofSeconds(5)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        return Map.of();
      }
      body = r.body();
    } catch (IOException ex) {
      return Map.of();
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      return Map.of();
    }
    String b = body.strip();
    if (b.startsWith("[") || b.startsWith("{")) {
      try {
        JsonNode root = WireProtocol.JSON.readTree(b);
        TrtllmTotals t = trtllm.computeIfAbsent(e, x -> new TrtllmTotals());
        if (root.isArray()) {
          root.forEach(t::add);
        } else {
          t.add(root);
        }
        return t.figures();
      } catch (IOException ex) {
        return Map.of();
      }
    }
    return prometheus(b);
  }

  /** Prometheus text exposition: {@code name{labels} value [timestamp]}; buckets skipped, label sets summed. */
  static Map<String, Double> prometheus(String text) {
    Map<String, Double> m = new TreeMap<>();
    for (String line : text.split("\n")) {
      String l = line.strip();
      if (l.isEmpty() || l.startsWith("#")) {
        continue;
      }
      int brace = l.indexOf('{');
      int space = brace >= 0 ? l.indexOf(' ', l.lastIndexOf('}')) : l.indexOf(' ');
      if (space < 0) {
        continue;
      }
      String name = (brace >= 0 && brace < space ? l.substring(0, brace) : l.substring(0, space)).strip();
      if (name.endsWith("_bucket") || name.endsWith("_created")) {
        continue;
      }
      String[] rest = l.substring(space + 1).strip().split("\\s+");
      double v;
      try {
        v = Double.parseDouble(rest[0]);
      } catch (NumberFormatException ex) {
        continue;
      }
      if (Double.isNaN(v) || Double.isInfinite(v)) {
        continue;
      }
      m.merge(name.replace(':', '.'), v, Double::sum);
    }
    Map<String, Double> means = new TreeMap<>();
    m.forEach((k, v) -> {
      if (k.endsWith("_sum")) {
        Double count = m.get(k.substring(0, k.length() - 4) + "_count");
        if (count != null && count > 0) {
          means.put(k.substring(0, k.length() - 4) + "_mean", v / count);
        }
      }
    });
    m.putAll(means);
    return m;
  }
}
