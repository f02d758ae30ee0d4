package dev.jgen.engine.serving;

import dev.jgen.catalog.GpuPresets;
import dev.jgen.catalog.ModelEntry;
import dev.jgen.catalog.ResolvedModel;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.JobConfig;
import dev.jgen.engine.EngineSpec;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The driver's side of {@code engine.kind=trtllm-serve}: the engine options from the {@code engine.trtllm.*} keys
 * (prefix dropped), with the catalog's GPU preset ({@code engine.trtllm.gpu}, {@link GpuPresets}) or GPU hints filling
 * what the job leaves unset. Config errors are {@link ConfigException}s, raised before Spark starts.
 *
 * <p>{@link TrtllmServeEngineProvider#spec} calls it for the job; the options carry {@code gpus_per_server}, which the
 * generation stage's GPU profile reads.
 */
public final class TrtllmServeSpecs {
  private static final String PREFIX = "engine.trtllm.";

  private TrtllmServeSpecs() {}

  public static EngineSpec spec(JobConfig config, ResolvedModel model, String bosText, int maxNewTokens, int ctx) {
    Map<String, String> opts = new TreeMap<>();
    for (String key : ConfigKeys.all().keySet()) {
      if (key.startsWith(PREFIX) && config.get(key) != null) {
        Object v = config.get(key);
        opts.put(key.substring(PREFIX.length()), v instanceof List<?> l ? String.join(",", l.stream().map(String::valueOf).toList()) : v.toString());
      }
    }
    ModelEntry entry = model.entry();
    Map<String, Object> hints = entry == null ? Map.of() : entry.gpu();
    GpuPresets.Preset preset = null;
    if (config.isSet(ConfigKeys.TRTLLM_GPU)) {
      if (entry == null || entry.shape() == null || entry.shape().isEmpty()) {
        throw new ConfigException(ConfigKeys.TRTLLM_GPU + ": model " + model.modelId() + " has no shape in the catalog, so no "
            + "preset; set " + ConfigKeys.TRTLLM_TP_SIZE + " and " + ConfigKeys.TRTLLM_MAX_BATCH_SIZE + " instead");
      }
      GpuPresets.Gpu gpu = GpuPresets.gpu(config.string(ConfigKeys.TRTLLM_GPU));
      double fraction = config.number(ConfigKeys.TRTLLM_KV_FRACTION);
      preset = pick(entry, gpu, ctx, fraction, config);
    }
    if (config.integer(ConfigKeys.TRTLLM_TP_SIZE) == 0) {
      opts.put("tp_size", String.valueOf(preset != null ? preset.tp() : hints.getOrDefault("tensor_parallel_degree", 1)));
    }
    if (config.integer(ConfigKeys.TRTLLM_GPUS_PER_SERVER) == 0) {
      opts.put("gpus_per_server", opts.get("tp_size"));
    }
    if (config.integer(ConfigKeys.TRTLLM_MAX_BATCH_SIZE) == 0) {
      opts.put("max_batch_size", String.valueOf(preset != null ? preset.batch() : 64));
    }
    if (config.integer(ConfigKeys.TRTLLM_MAX_SEQ_LEN) == 0) {
      opts.put("max_seq_len", String.valueOf(ctx));
    }
    String precision = preset != null ? preset.precision() : config.string(ConfigKeys.TRTLLM_PRECISION);
    if (precision != null) {
      opts.put("precision", precision);
    }
    if (!config.isSet(ConfigKeys.TRTLLM_KV_DTYPE) && "fp8".equals(precision)) {
      opts.put("kv_cache_dtype", "fp8");
    }
    if (bosText != null) {
      opts.put("bos_text", bosText);
    }
    String modelId = config.isSet(ConfigKeys.TRTLLM_MODEL_ID) ? config.string(ConfigKeys.TRTLLM_MODEL_ID)
        : config.isSet(ConfigKeys.MODEL_PATH) ? config.string(ConfigKeys.MODEL_PATH)
        : entry != null && entry.hfId() != null ? entry.hfId() : model.modelId();
    if (opts.getOrDefault("mode", "endpoint").equals("endpoint") && config.strings(ConfigKeys.TRTLLM_ENDPOINTS).isEmpty()) {
      throw new ConfigException(ConfigKeys.TRTLLM_ENDPOINTS + ": missing; endpoint mode needs the servers' URLs (or set "
          + ConfigKeys.TRTLLM_MODE + "=launch)");
    }
    if (maxNewTokens >= ctx) {
      throw new ConfigException(ConfigKeys.MAX_NEW_TOKENS + ": " + maxNewTokens + " leaves no room for a prompt in "
          + ctx + " tokens");
    }
    // The router keeps a prefix group on one server (issue 28); the same prefix length orders the rows in Spark.
    opts.put("prefix_route_tokens", String.valueOf(config.integer(ConfigKeys.PREFIX_GROUP_TOKENS)));
    return new EngineSpec(ServerKind.TRTLLM.kind(), modelId, opts);
  }

  /** The preset: at the job's tp_size and precision when set, else the suggested one; a clear error when none fits. */
  static GpuPresets.Preset pick(ModelEntry entry, GpuPresets.Gpu gpu, int ctx, double fraction, JobConfig config) {
    String precision = config.string(ConfigKeys.TRTLLM_PRECISION);
    int tp = config.integer(ConfigKeys.TRTLLM_TP_SIZE);
    GpuPresets.Preset chosen = null;
    if (precision == null && tp == 0) {
      chosen = GpuPresets.recommended(entry, gpu, ctx, fraction);
    } else {
      for (GpuPresets.Preset p : GpuPresets.all(entry, gpu, ctx, fraction)) {
        if ((precision == null || p.precision().equals(precision)) && (tp == 0 || p.tp() == tp) && p.fits()
            && (chosen == null || (tp == 0 ? p.tp() < chosen.tp() : p.batch() > chosen.batch()))) {
          chosen = p;
        }
      }
    }
    if (chosen == null) {
      throw new ConfigException(ConfigKeys.TRTLLM_GPU + ": " + entry.id() + " does not fit on " + gpu.name()
          + (precision != null ? " in " + precision : "") + (tp > 0 ? " with tp_size " + tp : "") + " at a context of "
          + ctx + " tokens (see `jgen models --gpu " + gpu.name() + "`)");
    }
    return chosen;
  }
}
