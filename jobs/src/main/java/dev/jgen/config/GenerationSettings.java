package dev.jgen.config;

import dev.jgen.engine.SamplingParams;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Map;

/**
 * Resolves each row's effective sampling parameters: the row's own column, else the job config, else the model card's
 * default from the catalog, else a neutral default. Nothing is taken silently from a generation_config.json.
 */
public final class GenerationSettings implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Row columns that override the job's generation settings, with the config key whose rules they follow. */
  public static final Map<String, String> ROW_OVERRIDES = Map.of(
      "max_new_tokens", ConfigKeys.MAX_NEW_TOKENS,
      "temperature", ConfigKeys.TEMPERATURE,
      "top_p", ConfigKeys.TOP_P,
      "top_k", ConfigKeys.TOP_K,
      "repetition_penalty", ConfigKeys.REPETITION_PENALTY,
      "seed", ConfigKeys.SEED);

  private final int maxNewTokens;
  private final double temperature;
  private final double topP;
  private final int topK;
  private final double repetitionPenalty;
  private final long seed;
  private final List<String> stop;
  // Structured output (issue 13): the job's constraint, checked here on the driver (ConfigException naming the key).
  private final dev.jgen.structured.OutputConstraint constraint;

  public GenerationSettings(JobConfig config, Map<String, Object> modelDefaults) {
    Map<String, Object> d = modelDefaults == null ? Map.of() : modelDefaults;
    this.maxNewTokens = config.integer(ConfigKeys.MAX_NEW_TOKENS);
    this.temperature = pick(config.number(ConfigKeys.TEMPERATURE), d.get("temperature"), 1.0);
    this.topP = pick(config.number(ConfigKeys.TOP_P), d.get("top_p"), 1.0);
    this.topK = (int) pick(config.integer(ConfigKeys.TOP_K) == null ? null : config.integer(ConfigKeys.TOP_K).doubleValue(), d.get("top_k"), 0);
    this.repetitionPenalty = pick(config.number(ConfigKeys.REPETITION_PENALTY), d.get("repetition_penalty"), 1.0);
    this.seed = config.longValue(ConfigKeys.SEED);
    this.stop = List.copyOf(config.strings(ConfigKeys.STOP));
    // @path schemas are read relative to the working directory, as input.path is.
    try {
      this.constraint = dev.jgen.structured.OutputConstraint.fromConfig(config.get(ConfigKeys.JSON_SCHEMA),
          config.get(ConfigKeys.GRAMMAR), config.get(ConfigKeys.CHOICE), null);
    } catch (dev.jgen.structured.ConstraintException e) {
      throw new ConfigException(e.getMessage(), e.getCause());
    }
  }

  private static double pick(Double configured, Object modelDefault, double neutral) {
    if (configured != null) {
      return configured;
    }
    return modelDefault instanceof Number n ? n.doubleValue() : neutral;
  }

  /**
   * @param overrides the row's override columns that are not null (raw values)
   * @throws IllegalArgumentException naming the column, for an override of the wrong type or out of range
   */
  public SamplingParams resolve(Map<String, Object> overrides, String id, int sampleIndex) {
    int mnt = overrides.containsKey("max_new_tokens") ? (Integer) check("max_new_tokens", overrides) : maxNewTokens;
    double t = overrides.containsKey("temperature") ? (Double) check("temperature", overrides) : temperature;
    double p = overrides.containsKey("top_p") ? (Double) check("top_p", overrides) : topP;
    int k = overrides.containsKey("top_k") ? (Integer) check("top_k", overrides) : topK;
    double rp = overrides.containsKey("repetition_penalty") ? (Double) check("repetition_penalty", overrides) : repetitionPenalty;
    long base = overrides.containsKey("seed") ? (Long) check("seed", overrides) : seed;
    return new SamplingParams(mnt, t, p, k, rp, deriveSeed(base, id, sampleIndex), stop);
  }

  private static Object check(String column, Map<String, Object> overrides) {
    try {
      return ConfigKeys.get(ROW_OVERRIDES.get(column)).parse(overrides.get(column));
    } catch (ConfigException e) {
      String msg = e.getMessage();
      throw new IllegalArgumentException("column " + column + msg.substring(msg.indexOf(':')));
    }
  }

  /**
   * The seed of one (row, sample): a stable hash of the base seed, the id and the sample index, in [0, 2^31), so every
   * sample differs and any one can be regenerated alone. Both engines accept 31-bit seeds.
   */
  public static long deriveSeed(long base, String id, int sampleIndex) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] h = md.digest((base + "\u0000" + id + "\u0000" + sampleIndex).getBytes(StandardCharsets.UTF_8));
      long v = 0;
      for (int i = 0; i < 8; i++) {
        v = (v << 8) | (h[i] & 0xff);
      }
      return v & 0x7fffffffL;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public int maxNewTokens() {
    return maxNewTokens;
  }

  /** The job's output constraint (structured output, issue 13), or null; a row's columns may replace it. */
  public dev.jgen.structured.OutputConstraint constraint() {
    return constraint;
  }

  public SamplingParams defaults() {
    return new SamplingParams(maxNewTokens, temperature, topP, topK, repetitionPenalty, seed, stop);
  }
}
