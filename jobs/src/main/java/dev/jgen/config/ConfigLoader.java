package dev.jgen.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads a YAML job config, applies {@code --set key=value} overrides and checks every key, all before Spark starts.
 * Nested YAML ({@code generation: {temperature: 0}}) and dotted keys ({@code generation.temperature: 0}) are the same.
 */
public final class ConfigLoader {
  private ConfigLoader() {}

  public static JobConfig load(Path file, List<String> overrides) {
    Map<String, Object> raw = new LinkedHashMap<>();
    if (file != null) {
      if (!Files.isRegularFile(file)) {
        throw new ConfigException("--config: no such file: " + file);
      }
      try {
        raw.putAll(parseYaml(Files.readString(file), file.toString()));
      } catch (IOException e) {
        throw new ConfigException("--config: cannot read " + file + ": " + e.getMessage(), e);
      }
    }
    for (String o : overrides) {
      int eq = o.indexOf('=');
      if (eq <= 0) {
        throw new ConfigException("--set: expected key=value (got '" + o + "')");
      }
      String value = o.substring(eq + 1);
      // "--set key=" unsets a key the YAML file set (a list key becomes empty).
      putFlat(raw, o.substring(0, eq).trim(), value.isEmpty() ? null : value, "--set");
    }
    return validate(raw);
  }

  /** Builds a config from an in-memory map (notebooks, tests, the API). */
  public static JobConfig fromMap(Map<String, ?> settings) {
    Map<String, Object> raw = new LinkedHashMap<>();
    flatten("", settings, raw, "settings");
    return validate(raw);
  }

  static Map<String, Object> parseYaml(String text, String origin) {
    Object doc;
    try {
      doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
    } catch (YAMLException e) {
      throw new ConfigException(origin + ": not valid YAML: " + e.getMessage().lines().findFirst().orElse(""), e);
    }
    Map<String, Object> flat = new LinkedHashMap<>();
    if (doc == null) {
      return flat;
    }
    if (!(doc instanceof Map<?, ?> m)) {
      throw new ConfigException(origin + ": expected a mapping of config keys at the top level");
    }
    flatten("", m, flat, origin);
    return flat;
  }

  private static void flatten(String prefix, Map<?, ?> m, Map<String, Object> out, String origin) {
    for (Map.Entry<?, ?> e : m.entrySet()) {
      String key = prefix + e.getKey();
      ConfigKey known = ConfigKeys.get(key);
      if (e.getValue() instanceof Map<?, ?> nested && (known == null || known.type() != ConfigKey.Type.MAP && known.type() != ConfigKey.Type.JSON)) {
        flatten(key + ".", nested, out, origin);
      } else {
        putFlat(out, key, e.getValue(), origin);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static void putFlat(Map<String, Object> out, String key, Object value, String origin) {
    // Map-typed keys take sub-keys from --set: spark.conf.spark.sql.shuffle.partitions=8.
    for (ConfigKey k : ConfigKeys.all().values()) {
      if (k.type() == ConfigKey.Type.MAP && key.startsWith(k.name() + ".")) {
        Map<String, Object> m = new LinkedHashMap<>((Map<String, Object>) out.getOrDefault(k.name(), Map.of()));
        m.put(key.substring(k.name().length() + 1), value);
        out.put(k.name(), m);
        return;
      }
    }
    if (ConfigKeys.get(key) == null) {
      List<String> near = ConfigKeys.suggestions(key);
      throw new ConfigException("unknown config key '" + key + "' (in " + origin + ")"
          + (near.isEmpty() ? "; `jgen generate --help` lists the keys" : "; known keys nearby: " + String.join(", ", near)));
    }
    out.put(key, value);
  }

  private static JobConfig validate(Map<String, Object> raw) {
    Map<String, Object> values = new LinkedHashMap<>();
    for (ConfigKey key : ConfigKeys.all().values()) {
      Object v = raw.containsKey(key.name()) ? key.parse(raw.get(key.name())) : key.defaultValue();
      values.put(key.name(), v);
    }
    if ("curate".equals(values.get(ConfigKeys.JOB_KIND))) {
      return validateCurate(raw, values);
    }
    require(values, ConfigKeys.INPUT_PATH, "the input rows (a JSONL, Parquet or Delta path)");
    require(values, ConfigKeys.OUTPUT_PATH, "the output Delta table path");
    if ("judge".equals(values.get(ConfigKeys.JOB_KIND))) {
      // The judge job's only model is the judge: model.id there would read as "the model being judged", which comes
      // from the answers instead, so it is refused rather than silently ignored.
      if (values.get(ConfigKeys.MODEL_ID) != null || values.get(ConfigKeys.MODEL_PATH) != null) {
        throw new ConfigException("model.id / model.path: job.kind=judge grades the answers at input.path with the model at "
            + "judge.model.id / judge.model.path; unset model.*");
      }
      if (values.get(ConfigKeys.JUDGE_MODEL_ID) == null && values.get(ConfigKeys.JUDGE_MODEL_PATH) == null) {
        throw new ConfigException("judge.model.id or judge.model.path: missing; job.kind=judge needs a judge model");
      }
      require(values, ConfigKeys.JUDGE_QUESTIONS, "FastChat's question.jsonl that the answers answer");
      if (raw.get(ConfigKeys.MAX_NEW_TOKENS) == null) {
        // FastChat's judge gets max_tokens=2048; generate's default (256) would cut explanations before the rating.
        values.put(ConfigKeys.MAX_NEW_TOKENS, ConfigKeys.FASTCHAT_JUDGE_MAX_TOKENS);
      }
      return new JobConfig(values);
    }
    if ("score".equals(values.get(ConfigKeys.JOB_KIND))) {
      // As the judge's: the scoring job's only model is the judge; the scored models come from the table.
      if (values.get(ConfigKeys.MODEL_ID) != null || values.get(ConfigKeys.MODEL_PATH) != null) {
        throw new ConfigException("model.id / model.path: job.kind=score rates the generations at input.path with the model at "
            + "score.model.id / score.model.path; unset model.*");
      }
      if (values.get(ConfigKeys.SCORE_MODEL_ID) == null && values.get(ConfigKeys.SCORE_MODEL_PATH) == null) {
        throw new ConfigException("score.model.id or score.model.path: missing; job.kind=score needs a judge model");
      }
      return new JobConfig(values);
    }
    // model.id picks the catalog entry (template, defaults); model.path the weights. Either alone is enough.
    if (values.get(ConfigKeys.MODEL_ID) == null && values.get(ConfigKeys.MODEL_PATH) == null) {
      throw new ConfigException("model.id or model.path: missing; set a catalog id (`jgen models` lists them) or a model directory");
    }
    return new JobConfig(values);
  }

  /** job.kind=curate reads a generations table, not input rows, and runs no model: other kinds' keys are refused. */
  private static JobConfig validateCurate(Map<String, Object> raw, Map<String, Object> values) {
    require(values, ConfigKeys.CURATE_GENERATIONS, "the generations table to curate");
    require(values, ConfigKeys.OUTPUT_PATH, "the curated Delta table path");
    for (String k : List.of(ConfigKeys.INPUT_PATH, ConfigKeys.MODEL_ID, ConfigKeys.MODEL_PATH)) {
      if (raw.get(k) != null) {
        throw new ConfigException(k + ": job.kind=curate reads curate.generations and runs no model; unset " + k);
      }
    }
    if (values.get(ConfigKeys.CURATE_SCORES) == null) {
      if (Boolean.TRUE.equals(values.get(ConfigKeys.CURATE_BEST_OF_N))) {
        throw new ConfigException("curate.best_of_n: needs curate.scores (the scores that pick the best sample)");
      }
      if (values.get(ConfigKeys.CURATE_MIN_SCORE) != null) {
        throw new ConfigException("curate.min_score: needs curate.scores");
      }
    }
    return new JobConfig(values);
  }

  private static void require(Map<String, Object> values, String key, String what) {
    if (values.get(key) == null) {
      throw new ConfigException(key + ": missing; set " + what);
    }
  }
}
