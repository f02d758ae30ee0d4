package dev.jgen.input;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.not;
import static org.apache.spark.sql.functions.trim;
import static org.apache.spark.sql.functions.when;

import java.util.HashMap;
import java.util.Map;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Window;

/**
 * Every kind's one rule for ids: a row's key in the output is its id; a repeated id keeps its first row (in input order)
 * and each later row becomes an error row keyed {@code <id>#row<N>}, its message naming the first; a row without a
 * usable id is keyed {@code #row<N>}. Nothing is lost and no two rows share a key, so resume can skip by key.
 */
public final class RowKeys {
  private RowKeys() {}

  /** The key of a row without a usable id. */
  public static String noIdKey(long row) {
    return "#row" + row;
  }

  /** The key of a later row with an id already taken. */
  public static String repeatedKey(String id, long row) {
    return id + noIdKey(row);
  }

  /** The error of a later row with an id already taken: {@code what} names the id ("duplicate id 'x'"). */
  public static String repeatedMessage(String what, long firstRow) {
    return what + " (first at input row " + firstRow + ")";
  }

  /**
   * Adds {@code keyColumn} and {@code errorColumn} (the repeated-id error, else null) to rows numbered in
   * {@code rowColumn}, by {@code id} (a string column: null or blank is no id). One window over the input, no shuffle of
   * the rows' other columns beyond Spark's.
   *
   * @param idName how messages name the id ("id", "question_id")
   */
  public static Dataset<Row> keyed(Dataset<Row> numbered, Column id, String rowColumn, String idName, String keyColumn,
      String errorColumn) {
    Column rowTag = concat(lit("#row"), col(rowColumn).cast("string"));
    Column usable = id.isNotNull().and(trim(id).notEqual(""));
    Column first = min(col(rowColumn)).over(Window.partitionBy(id));
    Dataset<Row> withFirst = numbered.withColumn("_jgen_first", when(usable, first));
    Column repeated = usable.and(col("_jgen_first").notEqual(col(rowColumn)));
    return withFirst
        .withColumn(keyColumn, when(not(usable), rowTag).when(repeated, concat(id, rowTag)).otherwise(id))
        .withColumn(errorColumn, when(repeated,
            concat(lit("duplicate " + idName + " '"), id, lit("' (first at input row "), col("_jgen_first").cast("string"), lit(")"))))
        .drop("_jgen_first");
  }

  /**
   * The first row of each id that more than one row has (normally none, or a few): for inputs read as records rather
   * than a DataFrame (the multi-turn kinds); the later rows of those ids take {@link #repeatedKey} and
   * {@link #repeatedMessage}, as {@link #keyed} gives them.
   */
  public static Map<String, Long> firstRowsOfRepeated(JavaPairRDD<String, Long> idAndRow) {
    return new HashMap<>(idAndRow.mapValues(row -> new long[] {row, 1})
        .reduceByKey((a, b) -> new long[] {Math.min(a[0], b[0]), a[1] + b[1]})
        .filter(t -> t._2()[1] > 1)
        .mapValues(v -> v[0])
        .collectAsMap());
  }
}
