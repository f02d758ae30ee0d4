package dev.jgen.engine.serving;

import dev.jgen.catalog.ResolvedModel;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.GenerationSettings;
import dev.jgen.config.JobConfig;
import dev.jgen.engine.EngineSpec;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.structured.OutputConstraint;
import dev.jgen.structured.ServerEncodings;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code engine.kind=djl-serving}: DJL Serving (LMI: TensorRT-LLM, vLLM) over HTTP. Options (the {@code engine.djl.*}
 * keys without the prefix): {@code mode} endpoint|launch, {@code endpoints}, {@code api} invocations|openai,
 * {@code command}, {@code window}, {@code max_rolling_batch_size}, {@code max_num_tokens}, {@code max_input_len},
 * {@code max_output_len}, {@code tensor_parallel_degree}, {@code dtype}, {@code quantize}, {@code job_queue_size},
 * {@code request_timeout_s}, {@code ready_timeout_s}, {@code retries}, {@code gpus_per_server}, {@code base_port}, and
 * {@code bos_text} (stripped from the start of every prompt: the server adds BOS). Internal ones with defaults:
 * {@code retry_base_ms} (200), {@code retry_max_ms} (10000), {@code stop_grace_s} (10), {@code gpu_addresses} (the
 * executor's GPUs for launch mode when Spark gives none; also system property {@code jgen.djl.gpu_addresses}),
 * {@code metrics_path} (/metrics), {@code app_id} and {@code state_dir} (launch mode's record of running servers).
 */
public final class DjlServingEngineProvider extends ServingEngineProvider {
  public DjlServingEngineProvider() {
    super(ServerKind.DJL);
  }

  /**
   * Every engine.djl.* key (prefix dropped), with the catalog's GPU hints filling tensor_parallel_degree, dtype and
   * quantize, and the template's BOS text, which the client strips because the server adds BOS itself.
   */
  @Override
  public EngineSpec spec(JobConfig config, ResolvedModel model, PromptSpec prompts, GenerationSettings generation, int ctx) {
    Map<String, String> opts = new TreeMap<>();
    for (String key : ConfigKeys.all().keySet()) {
      if (key.startsWith("engine.djl.") && config.get(key) != null) {
        Object v = config.get(key);
        opts.put(key.substring("engine.djl.".length()), v instanceof List<?> l ? String.join(",", l.stream().map(String::valueOf).toList()) : v.toString());
      }
    }
    Map<String, Object> gpu = model.entry() == null ? Map.of() : model.entry().gpu();
    if (config.integer(ConfigKeys.DJL_TENSOR_PARALLEL_DEGREE) == 0) {
      opts.put("tensor_parallel_degree", String.valueOf(gpu.getOrDefault("tensor_parallel_degree", 1)));
    }
    if (!config.isSet(ConfigKeys.DJL_DTYPE) && gpu.get("dtype") != null) {
      opts.put("dtype", gpu.get("dtype").toString());
    }
    if (!config.isSet(ConfigKeys.DJL_QUANTIZE) && gpu.get("quantize") != null) {
      opts.put("quantize", gpu.get("quantize").toString());
    }
    if (config.integer(ConfigKeys.DJL_MAX_INPUT_LEN) == 0) {
      opts.put("max_input_len", String.valueOf(ctx - generation.maxNewTokens()));
    }
    if (config.integer(ConfigKeys.DJL_MAX_OUTPUT_LEN) == 0) {
      opts.put("max_output_len", String.valueOf(generation.maxNewTokens()));
    }
    String bos = prompts.specialTokens().get("bos_token");
    if (bos != null) {
      opts.put("bos_text", bos);
    }
    String modelId = config.isSet(ConfigKeys.DJL_MODEL_ID) ? config.string(ConfigKeys.DJL_MODEL_ID)
        : config.isSet(ConfigKeys.MODEL_PATH) ? config.string(ConfigKeys.MODEL_PATH)
        : model.entry() != null && model.entry().hfId() != null ? model.entry().hfId() : model.modelId();
    if (opts.getOrDefault("mode", "endpoint").equals("endpoint") && config.strings(ConfigKeys.DJL_ENDPOINTS).isEmpty()) {
      throw new ConfigException(ConfigKeys.DJL_ENDPOINTS + ": missing; endpoint mode needs the servers' URLs "
          + "(or set " + ConfigKeys.DJL_MODE + "=launch)");
    }
    ServingEngineProvider.putAdapters(opts, generation);
    // The router keeps a prefix group on one server (issue 28); the same prefix length orders the rows in Spark.
    opts.put("prefix_route_tokens", String.valueOf(config.integer(ConfigKeys.PREFIX_GROUP_TOKENS)));
    return new EngineSpec(kind(), modelId, opts);
  }

  /** The configured server's API must exist and encode the constraint ({@link ServerEncodings}). */
  @Override
  public void checkConstraint(JobConfig config, OutputConstraint constraint) {
    String server = config.string(ConfigKeys.DJL_SERVER);
    String wire = ServerEncodings.serverKind(config.string(ConfigKeys.DJL_API), server);
    if (wire == null) {
      throw new ConfigException(ConfigKeys.DJL_SERVER + ": " + server + " has no /invocations API; set "
          + ConfigKeys.DJL_API + "=openai");
    }
    String why = ServerEncodings.unsupportedReason(wire, constraint);
    if (why != null) {
      throw new ConfigException(why);
    }
  }
}
