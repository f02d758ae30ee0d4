package dev.jgen.config;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A validated job configuration: every key of {@link ConfigKeys} with its value or default. Immutable and serializable,
 * so the same object the driver checked is what the executors read.
 */
public final class JobConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  private final LinkedHashMap<String, Object> values;

  JobConfig(Map<String, Object> values) {
    this.values = new LinkedHashMap<>();
    values.forEach((k, v) -> this.values.put(k, serializable(v)));
  }

  /** The value, or null when the key is unset and has no default. */
  public Object get(String key) {
    if (!ConfigKeys.all().containsKey(key)) {
      throw new IllegalArgumentException("not a config key: " + key);
    }
    return values.get(key);
  }

  public boolean isSet(String key) {
    return get(key) != null;
  }

  public String string(String key) {
    Object v = get(key);
    return v == null ? null : v.toString();
  }

  public Integer integer(String key) {
    return (Integer) get(key);
  }

  public Long longValue(String key) {
    return (Long) get(key);
  }

  public Double number(String key) {
    return (Double) get(key);
  }

  public Boolean bool(String key) {
    return (Boolean) get(key);
  }

  @SuppressWarnings("unchecked")
  public List<String> strings(String key) {
    Object v = get(key);
    return v == null ? List.of() : (List<String>) v;
  }

  @SuppressWarnings("unchecked")
  public Map<String, Object> map(String key) {
    Object v = get(key);
    return v == null ? Map.of() : (Map<String, Object>) v;
  }

  /** A copy with one value replaced (validated), for derived settings such as the resolved run id. */
  public JobConfig with(String key, Object value) {
    LinkedHashMap<String, Object> copy = new LinkedHashMap<>(values);
    copy.put(key, ConfigKeys.get(key).parse(value));
    return new JobConfig(copy);
  }

  /** All values, keys sorted: what the run records as its configuration. */
  public Map<String, Object> asMap() {
    return Collections.unmodifiableMap(new TreeMap<>(values));
  }

  private static Object serializable(Object v) {
    if (v instanceof Map<?, ?> m) {
      LinkedHashMap<String, Object> copy = new LinkedHashMap<>();
      m.forEach((k, x) -> copy.put(String.valueOf(k), serializable(x)));
      return copy;
    }
    if (v instanceof List<?> l) {
      ArrayList<Object> copy = new ArrayList<>();
      l.forEach(x -> copy.add(serializable(x)));
      return copy;
    }
    return v;
  }

  @Override
  public String toString() {
    return asMap().toString();
  }
}
