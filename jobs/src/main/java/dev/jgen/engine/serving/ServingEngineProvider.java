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
