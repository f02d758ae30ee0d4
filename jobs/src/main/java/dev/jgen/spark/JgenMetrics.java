package dev.jgen.spark;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import dev.jgen.engine.CompletionWindow;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.SparkContext;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;

/**
 * jgen's figures in Spark's metrics system, through Spark's public plugin API ({@code spark.plugins}, which every jgen
 * session sets): rows done, ok and error, prompt and completion tokens, requests in flight and the engine's busy
 * fraction, as gauges of this JVM (the driver's and each executor's source, {@code plugin.dev.jgen.spark.JgenMetrics}).
 * Whatever sink Spark is configured with shows them: the Prometheus servlet ({@code spark.metrics.conf.*.sink.
 * prometheusServlet.*}, on the UI at {@code /metrics/prometheus}), {@code spark.ui.prometheus.enabled} for executors,
 * Graphite, JMX. In local mode the driver is also the executor: both sources read the same counters.
 */
public final class JgenMetrics implements SparkPlugin {
  private static final AtomicLong ROWS = new AtomicLong();
  private static final AtomicLong OK = new AtomicLong();
  private static final AtomicLong ERRORS = new AtomicLong();
  private static final AtomicLong PROMPT_TOKENS = new AtomicLong();
  private static final AtomicLong COMPLETION_TOKENS = new AtomicLong();

  /** A row written by a task of this JVM. */
  public static void rowDone(boolean ok, long promptTokens, long completionTokens) {
    ROWS.incrementAndGet();
    (ok ? OK : ERRORS).incrementAndGet();
    PROMPT_TOKENS.addAndGet(Math.max(0, promptTokens));
    COMPLETION_TOKENS.addAndGet(Math.max(0, completionTokens));
  }

  static void register(MetricRegistry registry) {
    registry.register("rows", (Gauge<Long>) ROWS::get);
    registry.register("rows_ok", (Gauge<Long>) OK::get);
    registry.register("rows_error", (Gauge<Long>) ERRORS::get);
    registry.register("prompt_tokens", (Gauge<Long>) PROMPT_TOKENS::get);
    registry.register("completion_tokens", (Gauge<Long>) COMPLETION_TOKENS::get);
    registry.register("requests_in_flight", (Gauge<Long>) CompletionWindow::inFlightInThisJvm);
    registry.register("busy_fraction", (Gauge<Double>) CompletionWindow::busyFractionInThisJvm);
  }

  @Override
  public DriverPlugin driverPlugin() {
    return new DriverPlugin() {
      @Override
      public Map<String, String> init(SparkContext sc, PluginContext context) {
        register(context.metricRegistry());
        return Map.of();
      }
    };
  }

  @Override
  public ExecutorPlugin executorPlugin() {
    return new ExecutorPlugin() {
      @Override
      public void init(PluginContext context, Map<String, String> extraConf) {
        register(context.metricRegistry());
      }
    };
  }
}
