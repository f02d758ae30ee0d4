package dev.jgen.input;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.struct;

import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.prompt.SteerLmAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * {@code attributes.sweep}: every input row becomes one row per combination of the listed SteerLM attribute values (the
 * cross product), each with its attribute columns set, its own id {@code <id>|verbosity=0,humor=4} (so its own seed and
 * resume key) and a {@code sweep_variant} column ({@code verbosity=0,humor=4}). Attributes are always named in the
 * canonical order of {@link SteerLmAttributes#NAMES}, whatever the order in the config, so ids are stable.
 */
public final class AttributeSweep {
  public static final String VARIANT_COLUMN = "sweep_variant";

  private AttributeSweep() {}

  /**
   * Checks a sweep before Spark starts.
   *
   * @throws ConfigException for a key that is not an attribute, a value that is not an integer 0-4, an empty or
   *     repeated value list, or a model whose template ignores attributes (every variant would be the same prompt)
   */
  public static Map<String, List<Integer>> validate(Map<String, Object> sweep, PromptSpec spec) {
    Map<String, List<Integer>> parsed = parse(sweep);
    if (!parsed.isEmpty() && !spec.templateReadsAttributes()) {
      throw new ConfigException(ConfigKeys.ATTRIBUTES_SWEEP + ": model " + spec.modelId() + "'s chat template ignores SteerLM "
          + "attributes, so every variant would be the same prompt; sweeps need a model that reads them "
          + "(karakuri-lm-70b-chat-v0.1, karakuri-lm-8x7b-chat-v0.1)");
    }
    return parsed;
  }

  /**
   * The sweep's values as integer lists, in canonical attribute order. A value may be a list ({@code [0, 2, 4]}), one
   * number, or text from {@code --set} ({@code "0,2,4"} or {@code "[0, 2, 4]"}).
   */
  public static Map<String, List<Integer>> parse(Map<String, Object> sweep) {
    for (String key : sweep.keySet()) {
      if (!SteerLmAttributes.NAMES.contains(key)) {
        throw new ConfigException(ConfigKeys.ATTRIBUTES_SWEEP + "." + key + ": not a SteerLM attribute; must be one of "
            + String.join(" | ", SteerLmAttributes.NAMES));
      }
    }
    Map<String, List<Integer>> out = new LinkedHashMap<>();
    for (String name : SteerLmAttributes.NAMES) {
      if (!sweep.containsKey(name)) {
        continue;
      }
      String key = ConfigKeys.ATTRIBUTES_SWEEP + "." + name;
      Object raw = sweep.get(name);
      List<Object> items = new ArrayList<>();
      if (raw instanceof List<?> l) {
        items.addAll(l);
      } else if (raw instanceof String s) {
        String t = s.trim().replaceAll("^\\[|\\]$", "").trim();
        if (!t.isEmpty()) {
          for (String part : t.split(",")) {
            items.add(part.trim());
          }
        }
      } else if (raw != null) {
        items.add(raw);
      }
      if (items.isEmpty()) {
        throw new ConfigException(key + ": no values; give a list of integers 0-4, e.g. [0, 2, 4]");
      }
      LinkedHashSet<Integer> values = new LinkedHashSet<>();
      for (Object item : items) {
        Integer v = level(item);
        if (v == null) {
          throw new ConfigException(key + ": " + (item instanceof String ? "'" + item + "'" : item) + " is not an integer 0-4");
        }
        if (!values.add(v)) {
          throw new ConfigException(key + ": " + v + " is listed twice");
        }
      }
      out.put(name, List.copyOf(values));
    }
    return out;
  }

  private static Integer level(Object item) {
    double d;
    if (item instanceof Number n) {
      d = n.doubleValue();
    } else if (item instanceof String s) {
      try {
        d = Double.parseDouble(s.trim());
      } catch (NumberFormatException e) {
        return null;
      }
    } else {
      return null;
    }
    return d == Math.rint(d) && d >= 0 && d <= 4 ? (int) d : null;
  }

  /** The variants of a sweep in order (the last attribute varying fastest): {@code [{verbosity=0, humor=0}, ...]}. */
  public static List<Map<String, Integer>> variants(Map<String, List<Integer>> sweep) {
    List<Map<String, Integer>> out = new ArrayList<>();
    out.add(new LinkedHashMap<>());
    for (Map.Entry<String, List<Integer>> e : sweep.entrySet()) {
      List<Map<String, Integer>> next = new ArrayList<>();
      for (Map<String, Integer> partial : out) {
        for (Integer v : e.getValue()) {
          Map<String, Integer> m = new LinkedHashMap<>(partial);
          m.put(e.getKey(), v);
          next.add(m);
        }
      }
      out = next;
    }
    return out;
  }

  static String variantName(Map<String, Integer> variant) {
    List<String> parts = new ArrayList<>();
    variant.forEach((k, v) -> parts.add(k + "=" + v));
    return String.join(",", parts);
  }

  /**
   * The cross product of the input with the sweep, input order kept (each row's variants together). Attribute columns
   * the input already has are replaced by the sweep's; the id column becomes a string {@code <id>|<variant>} (a null id
   * stays null, so the row is still reported as missing its id).
   *
   * @param sweep as returned by {@link #validate} or {@link #parse} (an empty sweep returns the input unchanged)
   */
  public static Dataset<Row> expand(Dataset<Row> input, Map<String, List<Integer>> sweep, String idColumn) {
    Map<String, List<Integer>> canonical = parse(new LinkedHashMap<>(sweep));
    if (canonical.isEmpty()) {
      return input;
    }
    List<Column> structs = new ArrayList<>();
    for (Map<String, Integer> v : variants(canonical)) {
      List<Column> fields = new ArrayList<>();
      v.forEach((k, x) -> fields.add(lit(x).as(k)));
      fields.add(lit(variantName(v)).as(VARIANT_COLUMN));
      structs.add(struct(fields.toArray(Column[]::new)));
    }
    Dataset<Row> out = input;
    for (String name : canonical.keySet()) {
      out = out.drop(name);
    }
    out = out.drop(VARIANT_COLUMN).withColumn("_jgen_sweep", explode(array(structs.toArray(Column[]::new))));
    for (String name : canonical.keySet()) {
      out = out.withColumn(name, col("_jgen_sweep." + name));
    }
    return out
        .withColumn(VARIANT_COLUMN, col("_jgen_sweep." + VARIANT_COLUMN))
        .withColumn(idColumn, concat(col(idColumn).cast("string"), lit("|"), col(VARIANT_COLUMN)))
        .drop("_jgen_sweep");
  }
}
