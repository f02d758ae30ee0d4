package dev.jgen.engine.serving;

import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Launching TensorRT-LLM's own OpenAI-compatible server, {@code trtllm-serve}, one per GPU group.
 *
 * <p>Flags as defined by {@code tensorrt_llm/commands/serve.py} (TensorRT-LLM 1.0 to 1.2; read at NVIDIA/TensorRT-LLM
 * commit 00209af, and docs/source/commands/trtllm-serve.rst): {@code trtllm-serve MODEL --host --port --backend
 * pytorch|tensorrt --tp_size --max_batch_size --max_num_tokens --max_seq_len --kv_cache_free_gpu_memory_fraction
 * --extra_llm_api_options <yaml>}. The YAML overrides the flags ({@code update_llm_args_with_extra_dict}); it carries
 * what has no flag: {@code kv_cache_config.enable_block_reuse} (prefix caching), {@code kv_cache_config.dtype}, and
 * {@code enable_iter_perf_stats: true} so that {@code GET /metrics} returns per-iteration statistics on the PyTorch
 * backend. The fraction is written in both places so they agree. A user YAML ({@code extra_llm_api_options}) is merged
 * over jgen's. Ready when {@code GET /health} answers 200.
 */
final class TrtllmServeRecipe implements LaunchRecipe {
  static final String OPTIONS_FILE = "extra-llm-api-options.yaml";
  private final EngineSpec spec;

  TrtllmServeRecipe(EngineSpec spec) {
    this.spec = spec;
  }

  @Override
  public String serverName() {
    return "trtllm-serve";
  }

  @Override
  public String keyPrefix() {
    return "engine.trtllm.";
  }

  @Override
  public int gpusPerServer() {
    int per = spec.intOption("gpus_per_server", 0);
    int tp = spec.intOption("tp_size", 0);
    return per > 0 ? per : tp > 0 ? tp : 1;
  }

  @Override
  public String readinessPath() {
    return "/health";
  }

  double memoryFraction() {
    String v = spec.option("kv_cache_free_gpu_memory_fraction", "0.9");
    try {
      double d = Double.parseDouble(v.trim());
      if (d > 0 && d <= 1) {
        return d;
      }
    } catch (NumberFormatException e) {
      // the message below
    }
    throw new EngineException(keyPrefix() + "kv_cache_free_gpu_memory_fraction: '" + v + "' is not in (0, 1]");
  }

  /** The options YAML of one server, as a map in the order written. */
  Map<String, Object> llmApiOptions() {
    Map<String, Object> kv = new LinkedHashMap<>();
    kv.put("free_gpu_memory_fraction", memoryFraction());
    kv.put("enable_block_reuse", Boolean.parseBoolean(spec.option("enable_block_reuse", "true").trim()));
    String kvDtype = spec.option("kv_cache_dtype", null);
    if (kvDtype != null && !kvDtype.isBlank() && !kvDtype.equals("auto")) {
      kv.put("dtype", kvDtype.trim());
    }
    Map<String, Object> o = new LinkedHashMap<>();
    o.put("kv_cache_config", kv);
    o.put("enable_iter_perf_stats", true);
    // LoRA (issue 31): the PyTorch backend's lora_config (TensorRT-LLM docs, features/lora.html, "TRTLLM serve with
    // LoRA"): every adapter of the job on the GPU at once, so no request waits for a swap.
    String loraPaths = spec.option("lora_paths", "");
    if (!loraPaths.isBlank()) {
      List<String> dirs = List.of(loraPaths.split(","));
      Map<String, Object> lora = new LinkedHashMap<>();
      lora.put("lora_dir", dirs);
      lora.put("max_lora_rank", spec.intOption("max_lora_rank", 64));
      lora.put("max_loras", dirs.size());
      lora.put("max_cpu_loras", dirs.size());
      o.put("lora_config", lora);
    }
    String extra = spec.option("extra_llm_api_options", null);
    if (extra != null && !extra.isBlank()) {
      merge(o, userOptions(Path.of(extra.trim())));
    }
    return o;
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> userOptions(Path file) {
    try {
      Object y = new Yaml(new SafeConstructor(new LoaderOptions())).load(Files.readString(file, StandardCharsets.UTF_8));
      if (y == null) {
        return Map.of();
      }
      if (!(y instanceof Map<?, ?>)) {
        throw new EngineException(keyPrefix() + "extra_llm_api_options: " + file + " is not a YAML mapping");
      }
      return (Map<String, Object>) y;
    } catch (IOException e) {
      throw new EngineException(keyPrefix() + "extra_llm_api_options: cannot read " + file + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw e instanceof EngineException ee ? ee
          : new EngineException(keyPrefix() + "extra_llm_api_options: " + file + " is not valid YAML: " + e.getMessage(), e);
    }
  }

  /** The user's keys win; nested mappings merge key by key. */
  @SuppressWarnings("unchecked")
  private static void merge(Map<String, Object> into, Map<String, Object> from) {
    from.forEach((k, v) -> {
      if (v instanceof Map<?, ?> m && into.get(k) instanceof Map<?, ?> existing) {
        Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) existing);
        merge(copy, (Map<String, Object>) m);
        into.put(k, copy);
      } else {
        into.put(k, v);
      }
    });
  }

  static String yaml(Map<String, Object> options, List<String> group) {
    DumperOptions d = new DumperOptions();
    d.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
    d.setIndent(2);
    return "# written by jgen for one trtllm-serve process (GPU group " + (group.isEmpty() ? "none" : String.join(",", group))
        + "); passed as --extra_llm_api_options\n" + new Yaml(d).dump(options);
  }

  @Override
  public List<String> prepare(int index, List<String> group, int port, Path dir) throws IOException {
    Path options = dir.resolve(OPTIONS_FILE);
    Files.writeString(options, yaml(llmApiOptions(), group), StandardCharsets.UTF_8);
    int tp = spec.intOption("tp_size", 0);
    List<String> cmd = new ArrayList<>(List.of(spec.option("command", "trtllm-serve").trim().split("\\s+")));
    cmd.add(spec.model());
    cmd.addAll(List.of("--host", "127.0.0.1", "--port", String.valueOf(port)));
    cmd.addAll(List.of("--backend", spec.option("backend", "pytorch")));
    cmd.addAll(List.of("--tp_size", String.valueOf(tp > 0 ? tp : Math.max(1, group.size()))));
    cmd.addAll(List.of("--max_batch_size", String.valueOf(spec.intOption("max_batch_size", 64))));
    cmd.addAll(List.of("--max_num_tokens", String.valueOf(spec.intOption("max_num_tokens", 8192))));
    int maxSeqLen = spec.intOption("max_seq_len", 0);
    if (maxSeqLen > 0) {
      cmd.addAll(List.of("--max_seq_len", String.valueOf(maxSeqLen)));
    }
    cmd.addAll(List.of("--kv_cache_free_gpu_memory_fraction", String.valueOf(memoryFraction())));
    String tokenizer = spec.option("tokenizer", null);
    if (tokenizer != null && !tokenizer.isBlank()) {
      cmd.addAll(List.of("--tokenizer", tokenizer.trim()));
    }
    cmd.addAll(List.of("--extra_llm_api_options", options.toAbsolutePath().toString()));
    return cmd;
  }

  @Override
  public void environment(Map<String, String> env, List<String> group, int port, Path dir) {
    // CUDA_VISIBLE_DEVICES is the launcher's; trtllm-serve needs nothing else from the environment.
  }
}
