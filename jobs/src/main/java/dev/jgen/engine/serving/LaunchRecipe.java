package dev.jgen.engine.serving;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What differs between server kinds in launch mode: the command line, the files it reads, its environment and how it
 * says it is ready. Everything else (GPU groups, ports, starting, the parent watchdog, the record of what runs, readiness
 * polling, log tails, stopping) is {@link ServerLauncher}'s and the same for every kind.
 */
interface LaunchRecipe {
  /** For messages: {@code DJL Serving}, {@code trtllm-serve}. */
  String serverName();

  /** The config keys' prefix, for messages: {@code engine.djl.}. */
  String keyPrefix();

  /** GPUs one server spans (its tensor-parallel size). */
  int gpusPerServer();

  /** {@code GET} this path answers 200 once the model has loaded. */
  String readinessPath();

  /**
   * Writes what one server reads (serving.properties, an options YAML) into its own folder and returns its command line.
   *
   * @param group the GPU addresses of the server (empty: no GPU scheduling)
   */
  List<String> prepare(int index, List<String> group, int port, Path dir) throws IOException;

  /** Adds the server's environment ({@code CUDA_VISIBLE_DEVICES} is set by the launcher). */
  void environment(Map<String, String> env, List<String> group, int port, Path dir);
}
