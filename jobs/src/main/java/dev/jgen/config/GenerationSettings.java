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

  /** model.adapters by name (issue 31), each at its default scale. */
  private final java.util.SortedMap<String, dev.jgen.engine.LoraAdapter> adapters;
  /** generation.adapter: the adapter of rows that name none, or null for the base model. */
  private final String defaultAdapter;

  public GenerationSettings(JobConfig config, Map<String, Object> modelDefaults) {
    Map<String, Object> d = modelDefaults == null ? Map.of() : modelDefaults;
    this.adapters = adapters(config.map(ConfigKeys.MODEL_ADAPTERS));
    this.defaultAdapter = config.isSet(ConfigKeys.GENERATION_ADAPTER) ? config.string(ConfigKeys.GENERATION_ADAPTER) : null;
    if (defaultAdapter != null && !adapters.containsKey(defaultAdapter)) {
      throw new ConfigException(ConfigKeys.GENERATION_ADAPTER + ": '" + defaultAdapter + "' is not in " + ConfigKeys.MODEL_ADAPTERS
          + " (" + (adapters.isEmpty() ? "none configured" : "known: " + String.join(", ", adapters.keySet())) + ")");
    }
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

  /** model.adapters, read and fingerprinted on the driver: a missing file or a bad scale is a config error. */
  private static java.util.SortedMap<String, dev.jgen.engine.LoraAdapter> adapters(Map<String, Object> raw) {
    java.util.SortedMap<String, dev.jgen.engine.LoraAdapter> out = new java.util.TreeMap<>();
    int id = 0;
    for (Map.Entry<String, Object> e : new java.util.TreeMap<>(raw).entrySet()) {
      String key = ConfigKeys.MODEL_ADAPTERS + "." + e.getKey();
      String path;
      double scale = 1.0;
      if (e.getValue() instanceof String s) {
        path = s;
      } else if (e.getValue() instanceof Map<?, ?> m && m.get("path") instanceof String s) {
        path = s;
        Object sc = m.get("scale");
        if (sc != null) {
          if (!(sc instanceof Number n) || !Double.isFinite(n.doubleValue())) {
            throw new ConfigException(key + ".scale: a number, e.g. 0.5, got " + sc);
          }
          scale = n.doubleValue();
        }
      } else {
        throw new ConfigException(key + ": a path, or {path: ..., scale: ...}, got " + e.getValue());
      }
      java.nio.file.Path p = java.nio.file.Path.of(path);
      if (!java.nio.file.Files.exists(p)) {
        throw new ConfigException(key + ": " + path + " does not exist");
      }
      out.put(e.getKey(), new dev.jgen.engine.LoraAdapter(e.getKey(), id++, p.toAbsolutePath().toString(), scale, fingerprint(p, key)));
    }
    return java.util.Collections.unmodifiableSortedMap(out);
  }

  /** SHA-256 of a file, or of a directory's regular files (relative name and bytes, in name order). */
  private static String fingerprint(java.nio.file.Path p, String key) {
    try {
      java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
      List<java.nio.file.Path> files;
      if (java.nio.file.Files.isDirectory(p)) {
        try (var walk = java.nio.file.Files.walk(p)) {
          files = walk.filter(java.nio.file.Files::isRegularFile).sorted().toList();
        }
      } else {
        files = List.of(p);
      }
      for (java.nio.file.Path f : files) {
        md.update(p.relativize(f).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        try (var in = java.nio.file.Files.newInputStream(f)) {
          byte[] buf = new byte[1 << 16];
          for (int r; (r = in.read(buf)) > 0; ) {
            md.update(buf, 0, r);
          }
        }
      }
      return java.util.HexFormat.of().formatHex(md.digest());
    } catch (java.io.IOException | java.security.NoSuchAlgorithmException e) {
      throw new ConfigException(key + ": cannot read " + p + ": " + e.getMessage());
    }
  }

  /** The configured adapters by name. */
  public java.util.SortedMap<String, dev.jgen.engine.LoraAdapter> adapters() {
    return adapters;
  }

  /**
   * The adapter a row generates with: its {@code adapter} column, else generation.adapter, else none (the base model);
   * its {@code adapter_scale} column, else the adapter's configured scale.
   *
   * @throws IllegalArgumentException naming the column, for an adapter that is not configured or a bad scale
   */
  public dev.jgen.engine.LoraAdapter adapter(Object column, Object scaleColumn) {
    String name = column == null ? defaultAdapter : column.toString();
    if (name == null || name.isEmpty()) {
      if (scaleColumn != null) {
        throw new IllegalArgumentException("column adapter_scale: set without an adapter");
      }
      return null;
    }
    dev.jgen.engine.LoraAdapter a = adapters.get(name);
    if (a == null) {
      throw new IllegalArgumentException("column adapter: '" + name + "' is not in " + ConfigKeys.MODEL_ADAPTERS + " ("
          + (adapters.isEmpty() ? "none configured" : "known: " + String.join(", ", adapters.keySet())) + ")");
    }
    if (scaleColumn == null) {
      return a;
    }
    double s;
    try {
      s = scaleColumn instanceof Number n ? n.doubleValue() : Double.parseDouble(scaleColumn.toString());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("column adapter_scale: a number, got " + scaleColumn);
    }
    if (!Double.isFinite(s)) {
      throw new IllegalArgumentException("column adapter_scale: a finite number, got " + scaleColumn);
    }
    return a.withScale(s);
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
