package dev.jgen.input;

import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.config.JobConfig;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The sampling temperature of each MT-Bench category. Most specific first:
 * <ol>
 *   <li>{@code mtbench.temperatures[category]}, the job's per-category override;</li>
 *   <li>{@code generation.temperature}, only when the job sets it explicitly: one temperature for every other category
 *       (for example 0, an all-greedy run);</li>
 *   <li>FastChat {@code gen_model_answer}'s {@code temperature_config} (writing, roleplay 0.7; extraction, math, coding,
 *       reasoning 0.0; stem, humanities 0.1; arena-hard-200 0.0);</li>
 *   <li>0.7, FastChat's value for any other category.</li>
 * </ol>
 * The model card's temperature from the catalog is <b>not</b> used: answers must follow the benchmark's protocol to be
 * comparable with other models' answers. A temperature of 0 is greedy decoding, as FastChat's {@code < 1e-4}.
 */
public final class MtBenchTemperatures implements Serializable {
  private static final long serialVersionUID = 1L;

  /** FastChat's {@code temperature_config} (fastchat/llm_judge/common.py). */
  public static final Map<String, Double> FASTCHAT = Map.of(
      "writing", 0.7, "roleplay", 0.7, "extraction", 0.0, "math", 0.0, "coding", 0.0, "reasoning", 0.0,
      "stem", 0.1, "humanities", 0.1, "arena-hard-200", 0.0);
  /** FastChat's temperature for a category it does not list. */
  public static final double OTHER = 0.7;

  private final Map<String, Double> overrides;
  private final Double global;

  private MtBenchTemperatures(Map<String, Double> overrides, Double global) {
    this.overrides = overrides;
    this.global = global;
  }

  /** Reads and checks {@code mtbench.temperatures}: each value a number >= 0 (a ConfigException naming the key). */
  public static MtBenchTemperatures of(JobConfig config) {
    Map<String, Double> o = new LinkedHashMap<>();
    config.map(ConfigKeys.MTBENCH_TEMPERATURES).forEach((category, raw) -> {
      String key = ConfigKeys.MTBENCH_TEMPERATURES + "." + category;
      double t;
      try {
        t = raw instanceof Number n ? n.doubleValue() : Double.parseDouble(String.valueOf(raw).trim());
      } catch (NumberFormatException e) {
        throw new ConfigException(key + ": expected a number >= 0 (got '" + raw + "')");
      }
      if (!(t >= 0) || Double.isInfinite(t)) {
        throw new ConfigException(key + ": must be >= 0 (got " + raw + ")");
      }
      o.put(category, t);
    });
    return new MtBenchTemperatures(o, config.number(ConfigKeys.TEMPERATURE));
  }

  public double forCategory(String category) {
    Double t = overrides.get(category);
    if (t != null) {
      return t;
    }
    if (global != null) {
      return global;
    }
    return FASTCHAT.getOrDefault(category, OTHER);
  }
}
