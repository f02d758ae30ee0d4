package dev.jgen.input;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.first;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.monotonically_increasing_id;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.trim;
import static org.apache.spark.sql.functions.udf;
import static org.apache.spark.sql.functions.when;

import dev.jgen.prompt.SteerLmAttributes;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * {@code input.dedup}: marks rows whose instruction repeats an earlier row's. Two rows are the same instruction when their
 * conversations are equal after Unicode NFKC and whitespace folding (runs of whitespace to one space, ends trimmed) of
 * every text: {@code prompt} (read as one user message), or each message's role and content; the {@code system} text
 * and any SteerLM attribute columns must match too (they change the prompt). The first row in input order (by
 * {@code _jgen_row} when the input has it, else by position) is the original; the others get its id in
 * {@code duplicate_of}. Rows without a usable id or without text are never marked.
 */
public final class InputDedup {
  public static final String COLUMN = "duplicate_of";
  private static final String ROW_ORDER = "_jgen_row";

  private InputDedup() {}

  public static Dataset<Row> mark(Dataset<Row> input, String idColumn) {
    List<String> names = List.of(input.columns());
    List<Column> parts = new ArrayList<>();
    for (String c : List.of("prompt", "messages", "system")) {
      if (names.contains(c)) {
        parts.add(col(c).as(c));
      }
    }
    for (String a : SteerLmAttributes.NAMES) {
      if (names.contains(a)) {
        parts.add(col(a).cast("string").as(a));
      }
    }
    if (parts.isEmpty()) {
      return input.withColumn(COLUMN, lit(null).cast(DataTypes.StringType));
    }
    UserDefinedFunction key = udf((UDF1<Row, String>) InputDedup::key, DataTypes.StringType);
    Column id = col(idColumn).cast("string");
    Column usable = id.isNotNull().and(trim(id).notEqual(""));
    Column order = names.contains(ROW_ORDER) ? col(ROW_ORDER) : col("_jgen_dedup_order");
    Dataset<Row> d = names.contains(ROW_ORDER) ? input : input.withColumn("_jgen_dedup_order", monotonically_increasing_id());
    d = d.withColumn("_jgen_dedup_key", when(usable, key.apply(struct(parts.toArray(Column[]::new)))));
    var byKey = Window.partitionBy(col("_jgen_dedup_key"));
    var byKeyOrdered = byKey.orderBy(order);
    d = d.withColumn("_jgen_dedup_first", min(order).over(byKey))
        .withColumn("_jgen_dedup_first_id", first(id).over(byKeyOrdered));
    return d.withColumn(COLUMN, when(col("_jgen_dedup_key").isNotNull().and(order.notEqual(col("_jgen_dedup_first"))),
            col("_jgen_dedup_first_id")).otherwise(lit(null).cast(DataTypes.StringType)))
        .drop("_jgen_dedup_key", "_jgen_dedup_first", "_jgen_dedup_first_id", "_jgen_dedup_order");
  }

  /** The normalized conversation of a row, or null when it has no text to compare. */
  static String key(Row r) {
    StructType s = r.schema();
    StringBuilder k = new StringBuilder();
    Object prompt = field(r, s, "prompt");
    Object messages = field(r, s, "messages");
    if (prompt instanceof String p && !Texts.normalize(p).isEmpty()) {
      k.append("user\u0001").append(Texts.normalize(p)).append('\u0002');
    } else if (messages != null && s.fieldIndex("messages") >= 0) {
      Object javaMessages = SparkValues.toJava(messages, s.apply("messages").dataType());
      if (!(javaMessages instanceof List<?> list) || list.isEmpty()) {
        return null;
      }
      for (Object m : list) {
        if (m instanceof java.util.Map<?, ?> map) {
          k.append(map.get("role")).append('\u0001').append(Texts.normalize(String.valueOf(map.get("content"))));
        } else {
          k.append(Texts.normalize(String.valueOf(m)));
        }
        k.append('\u0002');
      }
    } else {
      return null;
    }
    if (field(r, s, "system") instanceof String sys) {
      k.append("\u0003system\u0001").append(Texts.normalize(sys));
    }
    for (String a : SteerLmAttributes.NAMES) {
      Object v = field(r, s, a);
      if (v != null) {
        k.append('\u0003').append(a).append('=').append(v);
      }
    }
    return k.toString();
  }

  private static Object field(Row r, StructType s, String name) {
    if (!List.of(s.fieldNames()).contains(name)) {
      return null;
    }
    return r.get(s.fieldIndex(name));
  }
}
