package dev.jgen.input;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/** Converts Spark row values into plain Java values (Map, List, String, Long, Double, Boolean) by their Spark type. */
public final class SparkValues {
  private SparkValues() {}

  public static Object toJava(Object value, DataType type) {
    if (value == null) {
      return null;
    }
    if (type instanceof StructType st && value instanceof Row r) {
      Map<String, Object> m = new LinkedHashMap<>();
      for (int i = 0; i < st.fields().length; i++) {
        StructField f = st.fields()[i];
        m.put(f.name(), toJava(r.get(i), f.dataType()));
      }
      return m;
    }
    if (type instanceof ArrayType at) {
      Iterable<?> items = value instanceof scala.collection.Iterable<?> s ? CollectionConverters.asJava(s) : (Iterable<?>) value;
      List<Object> out = new ArrayList<>();
      for (Object o : items) {
        out.add(toJava(o, at.elementType()));
      }
      return out;
    }
    if (type instanceof MapType mt) {
      Map<?, ?> in = value instanceof scala.collection.Map<?, ?> s ? CollectionConverters.asJava(s) : (Map<?, ?>) value;
      Map<String, Object> out = new LinkedHashMap<>();
      in.forEach((k, v) -> out.put(String.valueOf(k), toJava(v, mt.valueType())));
      return out;
    }
    if (value instanceof Integer i) {
      return i.longValue();
    }
    if (value instanceof Short s) {
      return s.longValue();
    }
    if (value instanceof Float f) {
      return f.doubleValue();
    }
    if (value instanceof java.math.BigDecimal d) {
      return d.doubleValue();
    }
    return value;
  }
}
