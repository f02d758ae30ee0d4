package dev.jgen.testing.djl;

import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The stand-in as its own process, started by a fake {@code djl-serving} command in launch-mode tests. Reads what the
 * real server reads: {@code SERVING_INFERENCE_ADDRESS} (or {@code --port}), {@code -m [name=]file:<dir>} with the
 * {@code serving.properties} jgen wrote ({@code option.max_rolling_batch_size}, {@code job_queue_size},
 * {@code option.max_input_len}). Extra arguments: {@code --tiny-model <dir>}, {@code --step-ms <ms>}, {@code --batch <n>},
 * {@code --metrics trtllm|prometheus} (what {@code GET /metrics} serves; the fake trtllm-serve passes these). Logs to stdout,
 * opens its port when ready, runs until killed.
 */
public final class StandInMain {
  private StandInMain() {}

  public static void main(String[] args) throws Exception {
    DjlServingStandIn.Options o = new DjlServingStandIn.Options();
    Path modelDir = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--port" -> o.port = Integer.parseInt(args[++i]);
        case "--step-ms" -> o.stepMillis = Long.parseLong(args[++i]);
        case "--tiny-model" -> o.modelDir = Path.of(args[++i]);
        case "--batch" -> o.batch = Integer.parseInt(args[++i]);
        case "--metrics" -> o.metricsFormat = args[++i];
        case "-m", "--models" -> modelDir = modelDir(args[++i]);
        default -> System.out.println("stand-in: ignoring argument " + args[i]);
      }
    }
    String address = System.getenv("SERVING_INFERENCE_ADDRESS");
    if (o.port == 0 && address != null) {
      o.port = URI.create(address).getPort();
    }
    if (modelDir != null) {
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(modelDir.resolve("serving.properties"), StandardCharsets.UTF_8)) {
        p.load(r);
      }
      System.out.println("stand-in: serving.properties " + p);
      o.batch = Integer.parseInt(p.getProperty("option.max_rolling_batch_size", "32"));
      o.jobQueueSize = Integer.parseInt(p.getProperty("job_queue_size", "1000"));
      o.maxInputLen = Integer.parseInt(p.getProperty("option.max_input_len", "0"));
    }
    System.out.println("stand-in: loading the model, CUDA_VISIBLE_DEVICES=" + System.getenv("CUDA_VISIBLE_DEVICES"));
    DjlServingStandIn s = DjlServingStandIn.start(o);
    System.out.println("stand-in: listening on " + s.url() + " (batch " + o.batch + ", job queue " + o.jobQueueSize + ")");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.out.println("stand-in: stopping, " + s.metrics());
      s.close();
    }));
    Thread.currentThread().join();
  }

  static Path modelDir(String arg) throws IOException {
    String url = arg.contains("=") ? arg.substring(arg.indexOf('=') + 1) : arg;
    String path = url.startsWith("file:") ? url.substring("file:".length()) : url;
    Path p = Path.of(path);
    if (!Files.isDirectory(p)) {
      throw new IOException("no model directory: " + p);
    }
    return p;
  }
}
