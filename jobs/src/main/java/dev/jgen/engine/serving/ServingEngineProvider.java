package dev.jgen.engine.serving;

import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.job.JobEngineProvider;

/** What the serving kinds share: the engine ({@link ServingEngine}), the capacity estimate and the GPU stage. */
abstract class ServingEngineProvider implements JobEngineProvider {
  private final ServerKind server;

  ServingEngineProvider(ServerKind server) {
    this.server = server;
  }

  @Override
  public final String kind() {
    return server.kind();
  }

  @Override
  public final Engine open(EngineSpec spec) {
    return new ServingEngine(spec, server);
  }

  /** Both servers take a LoRA adapter per request (trtllm-serve's lora_request, LMI's adapters field). */
  @Override
  public boolean carriesAdapters() {
    return true;
  }

  /**
   * The job's adapters as the launch recipes need them (issue 31): names and paths in model.adapters' order, and the
   * largest rank among them (PEFT's adapter_config.json {@code r}; 64 when a directory does not say).
   */
  static void putAdapters(java.util.Map<String, String> opts, dev.jgen.config.GenerationSettings generation) {
    if (generation.adapters().isEmpty()) {
      return;
    }
    java.util.List<String> names = new java.util.ArrayList<>();
    java.util.List<String> paths = new java.util.ArrayList<>();
    int rank = 0;
    for (dev.jgen.engine.LoraAdapter a : generation.adapters().values()) {
      names.add(a.name());
      paths.add(a.path());
      rank = Math.max(rank, peftRank(java.nio.file.Path.of(a.path())));
    }
    opts.put("lora_names", String.join(",", names));
    opts.put("lora_paths", String.join(",", paths));
    opts.put("max_lora_rank", String.valueOf(rank > 0 ? rank : 64));
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  private static int peftRank(java.nio.file.Path dir) {
    try {
      return JSON.readTree(dir.resolve("adapter_config.json").toFile()).path("r").asInt(0);
    } catch (java.io.IOException | RuntimeException e) {
      return 0;
    }
  }

  /** The in-flight window ({@code window}, else the server's batch size) times the configured endpoints. */
  @Override
  public int capacity(EngineSpec spec) {
    int window = spec.intOption("window", 0);
    if (window <= 0) {
      window = spec.intOption("max_rolling_batch_size", spec.intOption("max_batch_size", 0));
    }
    if (window <= 0) {
      return JobEngineProvider.super.capacity(spec);
    }
    String endpoints = spec.option("endpoints", "");
    int servers = 0;
    for (String e : endpoints.split(",")) {
      if (!e.isBlank()) {
        servers++;
      }
    }
    return window * Math.max(1, servers);
  }

  /** A GPU server: option {@code gpus_per_server}, else {@code tensor_parallel_degree}, at least 1. */
  @Override
  public int gpusPerServer(EngineSpec spec) {
    int per = spec.intOption("gpus_per_server", 0);
    int tp = spec.intOption("tensor_parallel_degree", 0);
    return per > 0 ? per : Math.max(1, tp);
  }
}
