package dev.jgen.eval;

import dev.jgen.input.SparkValues;
import dev.jgen.prompt.InvalidRowException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.spark.GenerateJob;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The input of the evaluation and self-chat jobs as plain Java values, one record per input row, numbered in input order.
 * JSONL is parsed line by line with Jackson rather than by Spark's schema inference, so a value of the wrong type (a
 * number among the turns, say) is seen as such instead of being coerced into a string column.
 */
final class EvalInput {
  private EvalInput() {}

  /**
   * One input row.
   *
   * @param row the row's number in input order (0-based)
   * @param fields the row's values (String, Long, Double, Boolean, List, Map), null when the line is not JSON
   * @param key the row's key in the output: its id, "id#rowN" for a repeated id, "#rowN" when it has none
   * @param error why the row cannot be used (a broken line, a missing or repeated id), or null
   */
  record Record(long row, Map<String, Object> fields, String id, String key, String error) implements Serializable {}

  static JavaRDD<Record> read(SparkSession spark, GenerateJob job, String idColumn, String idName) {
    String path = job.config().string(ConfigKeys.INPUT_PATH);
    JavaRDD<Tuple2<Long, Map<String, Object>>> parsed = switch (job.inputFormat()) {
      case "jsonl" -> spark.read().text(path).javaRDD().zipWithIndex().filter(t -> !t._1().getString(0).isBlank())
          .map(t -> new Tuple2<>(t._2(), parseLine(t._1().getString(0))));
      case "parquet" -> rows(spark.read().parquet(path));
      case "delta" -> rows(spark.read().format("delta").load(path));
      default -> throw new ConfigException(ConfigKeys.INPUT_FORMAT + ": unsupported " + job.inputFormat());
    };
    JavaRDD<Record> first = parsed.map(t -> check(t._1(), t._2(), idColumn, idName));
    // Repeated ids: the first row keeps the id, the others become error rows with keys of their own (RowKeys' rule).
    Map<String, Long> f = dev.jgen.input.RowKeys.firstRowsOfRepeated(first.filter(r -> r.error() == null)
        .mapToPair(r -> new Tuple2<>(r.id(), r.row())));
    if (f.isEmpty()) {
      return first;
    }
    // Only the repeated ids travel with the tasks: normally none, or a few.
    return first.map(r -> {
      Long at = r.error() == null ? f.get(r.id()) : null;
      if (at == null || at == r.row()) {
        return r;
      }
      return new Record(r.row(), r.fields(), r.id(), dev.jgen.input.RowKeys.repeatedKey(r.id(), r.row()),
          dev.jgen.input.RowKeys.repeatedMessage("duplicate " + idName + " '" + r.id() + "'", at));
    });
  }

  private static Record check(long row, Map<String, Object> fields, String idColumn, String idName) {
    String tag = dev.jgen.input.RowKeys.noIdKey(row);
    if (fields == null) {
      return new Record(row, null, null, tag, "input line is not a valid JSON object");
    }
    Object id = fields.get(idColumn);
    if (id == null || (id instanceof String s && s.isBlank())) {
      return new Record(row, fields, null, tag, "input row " + row + ": missing or empty " + idName);
    }
    if (!(id instanceof String) && !(id instanceof Long) && !(id instanceof Integer)) {
      return new Record(row, fields, null, tag, idName + ": expected an integer or a string, got " + InvalidRowException.describe(id));
    }
    return new Record(row, fields, id.toString(), id.toString(), null);
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  static Map<String, Object> parseLine(String line) {
    try {
      JsonNode n = JSON.readTree(line);
      if (n == null || !n.isObject()) {
        return null;
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> m = (Map<String, Object>) toJava(n);
      return m;
    } catch (java.io.IOException e) {
      return null;
    }
  }

  private static Object toJava(JsonNode n) {
    if (n == null || n.isNull() || n.isMissingNode()) {
      return null;
    }
    if (n.isObject()) {
      Map<String, Object> m = new LinkedHashMap<>();
      Iterator<Map.Entry<String, JsonNode>> it = n.fields();
      while (it.hasNext()) {
        var e = it.next();
        m.put(e.getKey(), toJava(e.getValue()));
      }
      return m;
    }
    if (n.isArray()) {
      List<Object> l = new ArrayList<>();
      n.forEach(x -> l.add(toJava(x)));
      return l;
    }
    if (n.isTextual()) {
      return n.textValue();
    }
    if (n.isBoolean()) {
      return n.booleanValue();
    }
    if (n.isIntegralNumber()) {
      return n.canConvertToLong() ? (Object) n.longValue() : n.bigIntegerValue().toString();
    }
    if (n.isNumber()) {
      return n.doubleValue();
    }
    return n.toString();
  }

  private static JavaRDD<Tuple2<Long, Map<String, Object>>> rows(Dataset<Row> df) {
    StructType schema = df.schema();
    return df.javaRDD().zipWithIndex().map(t -> {
      Map<String, Object> m = new LinkedHashMap<>();
      for (int i = 0; i < schema.fields().length; i++) {
        StructField f = schema.fields()[i];
        m.put(f.name(), SparkValues.toJava(t._1().get(i), f.dataType()));
      }
      return new Tuple2<>(t._2(), m);
    });
  }
}
