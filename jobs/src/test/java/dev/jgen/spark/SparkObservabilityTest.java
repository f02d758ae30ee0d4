package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.testing.ChildJob;
import dev.jgen.testing.Signals;
import dev.jgen.testing.TestFiles;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run as Spark's own tools show it (one job process with its UI on, as an operator would run it): its metrics read
 * through Spark's Prometheus servlet while it runs (jgen's plugin source: rows, tokens, requests in flight, busy
 * fraction), each chunk's Spark job described by kind, run, attempt, chunk and rows, and jgen's accumulators listed on
 * the stages.
 */
class SparkObservabilityTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern ROWS = Pattern.compile("JgenMetrics_rows_Value\\{[^}]*\\} (\\d+)");

  @TempDir Path dir;

  @Test
  void metricsReadThroughPrometheusDuringARunAndChunksNamedInTheUi() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      lines.add("{\"id\": \"m" + i + "\", \"prompt\": \"観測の確認 " + i + " について説明してください。\"}");
    }
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    Path conf = Files.writeString(dir.resolve("job.yaml"), String.join("\n",
        "input: {path: " + in + ", format: jsonl}",
        "model: {id: tiny-llama-ja}",
        "engine: {kind: llamacpp, parallel: 2}",
        "generation: {max_new_tokens: 48, temperature: 0}",
        "output: {path: " + dir.resolve("gen") + "}",
        "job: {chunk_rows: 8, partitions: 1}",
        "spark:",
        "  conf:",
        "    spark.ui.enabled: 'true'",
        "    spark.ui.port: '" + port + "'",
        "    spark.metrics.conf.*.sink.prometheusServlet.class: org.apache.spark.metrics.sink.PrometheusServlet",
        "    spark.metrics.conf.*.sink.prometheusServlet.path: /metrics/prometheus",
        ""));
    Path log = dir.resolve("job.log");
    Process job = ChildJob.start(log, "generate", "--config", conf.toString());
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    String base = "http://127.0.0.1:" + port;
    long rowsSeenRunning = -1;
    String metricsText = null;
    String jobsJson = null;
    String stagesJson = null;
    String environmentJson = null;
    try {
      long until = System.currentTimeMillis() + 240_000;
      while (System.currentTimeMillis() < until && job.isAlive()) {
        String m = get(http, base + "/metrics/prometheus/");
        if (m != null) {
          Matcher r = ROWS.matcher(m);
          if (r.find() && Long.parseLong(r.group(1)) > 0) {
            rowsSeenRunning = Long.parseLong(r.group(1));
            metricsText = m;
            String apps = get(http, base + "/api/v1/applications");
            if (apps != null) {
              String app = JSON.readTree(apps).get(0).get("id").asText();
              jobsJson = get(http, base + "/api/v1/applications/" + app + "/jobs");
              stagesJson = get(http, base + "/api/v1/applications/" + app + "/stages?details=true");
              environmentJson = get(http, base + "/api/v1/applications/" + app + "/environment");
            }
            // A stage shows jgen's accumulators once its tasks reported them (a task's end, or an executor heartbeat):
            // poll on until one does, not only until the first chunk job exists (a loaded run saw none at that moment).
            if (jobsJson != null && jobsJson.contains("chunk") && stagesJson != null
                && stagesJson.contains("jgen.completion_tokens")) {
              break;
            }
          }
        }
        Thread.sleep(200);
      }
      assertTrue(job.waitFor(4, TimeUnit.MINUTES), Signals.read(log));
      assertEquals(0, job.exitValue(), Signals.read(log));
    } finally {
      job.destroyForcibly();
    }
    assertTrue(rowsSeenRunning > 0, "jgen's rows gauge read through Prometheus while the run was going: " + Signals.read(log));
    for (String gauge : List.of("rows_ok", "rows_error", "prompt_tokens", "completion_tokens", "requests_in_flight", "busy_fraction")) {
      assertTrue(metricsText.contains("JgenMetrics_" + gauge + "_Value"), gauge + " in:\n" + metricsText);
    }
    assertTrue(jobsJson != null && Pattern.compile("jgen generate run run-[0-9a-f]+ attempt 1 chunk \\d+ \\(\\d+ rows\\)")
        .matcher(jobsJson).find(), "the chunk jobs are described: " + jobsJson);
    assertTrue(stagesJson != null && stagesJson.contains("jgen.completion_tokens"), "jgen's accumulators are on the stages");
    // The job's session keeps zero accumulator updates in heartbeats (HeartbeatTest shows why).
    assertTrue(environmentJson != null && environmentJson.replaceAll("\\s", "")
        .contains("[\"" + SparkSessions.HEARTBEAT_DROP_ZEROES + "\",\"false\"]"), "the job's Spark settings: " + environmentJson);
  }

  private static String get(HttpClient http, String url) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? r.body() : null;
    } catch (Exception e) {
      return null; // not up yet
    }
  }
}
