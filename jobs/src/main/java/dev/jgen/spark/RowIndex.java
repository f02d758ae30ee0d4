package dev.jgen.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;

/** Numbers a dataset's rows 0..n-1 in their order (partition by partition), in a column of its own. */
final class RowIndex {
  private RowIndex() {}

  static Dataset<Row> append(SparkSession spark, Dataset<Row> rows, String column) {
    var schema = rows.schema().add(column, DataTypes.LongType, false);
    var numbered = rows.javaRDD().zipWithIndex().map(t -> {
      Row r = t._1();
      Object[] v = new Object[r.size() + 1];
      for (int i = 0; i < r.size(); i++) {
        v[i] = r.get(i);
      }
      v[r.size()] = t._2();
      return RowFactory.create(v);
    });
    return spark.createDataFrame(numbered, schema);
  }
}
