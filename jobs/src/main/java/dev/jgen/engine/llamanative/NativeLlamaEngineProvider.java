package dev.jgen.engine.llamanative;

import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineProvider;
import dev.jgen.engine.EngineSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code llamacpp-native}: the natively built engine only, failing when there is no build. {@code engine.kind=llamacpp}
 * reaches it through {@code LlamaCppEngineProvider}, which falls back to the embedded jar when there is none.
 *
 * <p>Options: {@code threads} and {@code parallel} (0: {@link MachineDefaults}), {@code ctx_size} (the KV cache,
 * shared by all sequences; a row needs prompt + max_new_tokens of it), {@code kv_size} (overrides ctx_size for the
 * cache), {@code native_server} (a binary to use instead of the cached build), {@code load_timeout_s},
 * {@code prefix_cache} ({@code false}: every prompt decoded from its first token), {@code cache_seqs} (sequence ids kept
 * for finished sequences, default 32), {@code row_tokens} (the cache grows to hold {@code parallel} rows of this many
 * tokens, within a quarter of the machine's memory), {@code batch} (tokens per decode step, default 512) and {@code lora_paths} (the
 * GGUF LoRA adapters requests may name, comma-separated: each loaded once at start, issue 31).
 */
public final class NativeLlamaEngineProvider implements EngineProvider {
  public static final String KIND = "llamacpp-native";
  /** Load timeout when neither option {@code load_timeout_s} nor the model's size says more. */
  static final int DEFAULT_LOAD_TIMEOUT_S = 300;

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  public Engine open(EngineSpec spec) {
    String explicit = spec.option("native_server", "");
    Path server = !explicit.isBlank() ? Paths.get(explicit) : NativeBuild.server().orElseThrow(() -> new EngineException(
        "no native llama.cpp build for this machine: run bin/build-native (it needs cmake, a C++ compiler, git and npm)"));
    return new NativeLlamaEngine(command(server, spec), parallel(spec), java.time.Duration.ofSeconds(loadTimeoutS(spec)),
        loraPaths(spec));
  }

  /**
   * Option {@code load_timeout_s}, else 300 s plus 20 s per GB of weights (a 40 GB GGUF read at 50 MB/s from a slow
   * disk): the server must say READY within it, or the load fails and the process is killed.
   */
  static long loadTimeoutS(EngineSpec spec) {
    int explicit = spec.intOption("load_timeout_s", 0);
    return explicit > 0 ? explicit : DEFAULT_LOAD_TIMEOUT_S + 20 * (modelBytes(spec.model()) / 1_000_000_000L);
  }

  static int parallel(EngineSpec spec) {
    int p = spec.intOption("parallel", 0);
    return p > 0 ? p : MachineDefaults.parallel(Runtime.getRuntime().availableProcessors(), modelBytes(spec.model()));
  }

  static int threads(EngineSpec spec) {
    int t = spec.intOption("threads", 0);
    return t > 0 ? t : MachineDefaults.threads(Runtime.getRuntime().availableProcessors());
  }

  public static List<String> command(Path server, EngineSpec spec) {
    int kv = spec.intOption("kv_size", 0);
    if (kv <= 0) {
      kv = spec.intOption("ctx_size", 4096);
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(server.toString());
    cmd.add("--model");
    cmd.add(spec.model());
    cmd.add("--threads");
    cmd.add(String.valueOf(threads(spec)));
    cmd.add("--parallel");
    cmd.add(String.valueOf(parallel(spec)));
    cmd.add("--kv-size");
    cmd.add(String.valueOf(kv));
    // Option row_tokens (a row's likely need, set when engine.ctx_size is left to jgen): the shared cache grows until
    // every sequence can hold such a row, within a quarter of the machine's memory (the server's cap). Without it a
    // model whose context is small next to parallel x row ran fewer sequences than it has (issue 28 item 5: 2,048 cells
    // for 16 rows of 161 tokens held 12 at a time, and the defaults reached 0.80 of llama-batched-bench).
    int rowTokens = spec.intOption("row_tokens", 0);
    if (rowTokens > 0 && spec.intOption("kv_size", 0) <= 0) {
      cmd.add("--kv-grow-to");
      cmd.add(String.valueOf((long) parallel(spec) * rowTokens));
    }
    // Always said, so the server's own default never decides (READY echoes it).
    cmd.add("--prefix-cache");
    cmd.add(prefixCache(spec) ? "1" : "0");
    // Not set by any config key: tests and benchmarks size the cache's sequence ids and the decode batch with them.
    for (String o : List.of("cache_seqs", "batch")) {
      int v = spec.intOption(o, 0);
      if (v > 0) {
        cmd.add("--" + o.replace('_', '-'));
        cmd.add(String.valueOf(v));
      }
    }
    // The LoRA adapters rows may name (issue 31), in the order requests index them.
    for (String path : loraPaths(spec)) {
      cmd.add("--lora");
      cmd.add(path);
    }
    return cmd;
  }

  /** Option {@code lora_paths}: the adapters' files, comma-separated, in the order the server indexes them. */
  public static List<String> loraPaths(EngineSpec spec) {
    List<String> paths = new ArrayList<>();
    for (String p : spec.option("lora_paths", "").split(",")) {
      if (!p.isBlank()) {
        paths.add(p.trim());
      }
    }
    return paths;
  }

  /** Option {@code prefix_cache} (engine.prefix_cache): reuse the KV cells of cached prompt prefixes; default on. */
  static boolean prefixCache(EngineSpec spec) {
    return !"false".equalsIgnoreCase(spec.option("prefix_cache", "true").trim());
  }

  static long modelBytes(String model) {
    try {
      return Files.size(Paths.get(model));
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }
}
