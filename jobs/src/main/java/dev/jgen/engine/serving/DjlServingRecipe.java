package dev.jgen.engine.serving;

import dev.jgen.engine.EngineSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Launching {@code djl-serving}: a model directory with the {@code serving.properties} written here, passed as
 * {@code -m jgen=file:<dir>}; the same settings in the environment ({@code OPTION_*}, {@code SERVING_*}), which DJL
 * Serving reads too; ready when {@code GET /ping} answers 200 (its port opens only after the model has loaded).
 */
final class DjlServingRecipe implements LaunchRecipe {
  private final EngineSpec spec;

  DjlServingRecipe(EngineSpec spec) {
    this.spec = spec;
  }

  @Override
  public String serverName() {
    return "DJL Serving";
  }

  @Override
  public String keyPrefix() {
    return "engine.djl.";
  }

  @Override
  public int gpusPerServer() {
    int per = spec.intOption("gpus_per_server", 0);
    int tp = spec.intOption("tensor_parallel_degree", 0);
    return per > 0 ? per : tp > 0 ? tp : 1;
  }

  @Override
  public String readinessPath() {
    return "/ping";
  }

  /** The settings of one server: serving.properties keys in the order written. */
  Map<String, String> servingProperties(List<String> group) {
    Map<String, String> p = new LinkedHashMap<>();
    int tp = spec.intOption("tensor_parallel_degree", 0);
    p.put("engine", "Python");
    p.put("option.model_id", spec.model());
    p.put("option.tensor_parallel_degree", String.valueOf(tp > 0 ? tp : Math.max(1, group.size())));
    p.put("option.max_rolling_batch_size", String.valueOf(spec.intOption("max_rolling_batch_size", 64)));
    putPositive(p, "option.max_num_tokens", spec.intOption("max_num_tokens", 0));
    putPositive(p, "option.max_input_len", spec.intOption("max_input_len", 0));
    putPositive(p, "option.max_output_len", spec.intOption("max_output_len", 0));
    putSet(p, "option.dtype", spec.option("dtype", null));
    putSet(p, "option.quantize", spec.option("quantize", null));
    // vLLM's automatic prefix caching, an engine argument LMI passes through (djl-serving's
    // serving/docs/lmi/user_guides/vllm_user_guide.md: option.enable_prefix_caching=true); on by default in jgen's
    // recipe because its rows share long prefixes (a task's system prompt, few-shot examples, a rubric).
    p.put("option.enable_prefix_caching", String.valueOf(!"false".equalsIgnoreCase(spec.option("enable_prefix_caching", "true").trim())));
    p.put("option.model_loading_timeout", String.valueOf(spec.intOption("ready_timeout_s", 1800)));
    p.put("job_queue_size", String.valueOf(spec.intOption("job_queue_size", 1000)));
    // LoRA (issue 31): LMI's vLLM backend hosts adapters (docs.djl.ai, serving/docs/adapters.md: option.enable_lora,
    // option.max_loras, option.max_lora_rank); every adapter of the job at once.
    String loraNames = spec.option("lora_names", "");
    if (!loraNames.isBlank()) {
      p.put("option.enable_lora", "true");
      p.put("option.max_loras", String.valueOf(loraNames.split(",").length));
      p.put("option.max_lora_rank", String.valueOf(spec.intOption("max_lora_rank", 64)));
    }
    return p;
  }

  private static void putPositive(Map<String, String> p, String key, int v) {
    if (v > 0) {
      p.put(key, String.valueOf(v));
    }
  }

  private static void putSet(Map<String, String> p, String key, String v) {
    if (v != null && !v.isBlank()) {
      p.put(key, v.trim());
    }
  }

  @Override
  public List<String> prepare(int index, List<String> group, int port, Path dir) throws IOException {
    Path modelDir = dir.resolve("model");
    Files.createDirectories(modelDir);
    StringBuilder sb = new StringBuilder("# written by jgen for one DJL Serving process (GPU group "
        + (group.isEmpty() ? "none" : String.join(",", group)) + ")\n");
    servingProperties(group).forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
    Files.writeString(modelDir.resolve("serving.properties"), sb.toString(), StandardCharsets.UTF_8);
    // The adapters local directory beside serving.properties (adapters.md, "Adapters local directory"): each adapter
    // registered at startup under its model.adapters name, the name requests carry in "adapters".
    String loraNames = spec.option("lora_names", "");
    if (!loraNames.isBlank()) {
      String[] names = loraNames.split(",");
      String[] paths = spec.option("lora_paths", "").split(",");
      Path adapters = modelDir.resolve("adapters");
      Files.createDirectories(adapters);
      for (int i = 0; i < names.length; i++) {
        Path link = adapters.resolve(names[i]);
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, Path.of(paths[i]).toAbsolutePath());
      }
    }
    List<String> cmd = new ArrayList<>(List.of(spec.option("command", "djl-serving").trim().split("\\s+")));
    cmd.add("-m");
    cmd.add("jgen=file:" + modelDir.toAbsolutePath());
    return cmd;
  }

  @Override
  public void environment(Map<String, String> env, List<String> group, int port, Path dir) {
    String address = "http://127.0.0.1:" + port;
    Map<String, String> props = servingProperties(group);
    env.put("SERVING_INFERENCE_ADDRESS", address);
    env.put("SERVING_MANAGEMENT_ADDRESS", address); // else every server would also bind the default 8080
    env.put("SERVING_JOB_QUEUE_SIZE", props.get("job_queue_size"));
    props.forEach((k, v) -> {
      if (k.startsWith("option.")) {
        env.put("OPTION_" + k.substring("option.".length()).toUpperCase(Locale.ROOT), v);
      }
    });
  }
}
