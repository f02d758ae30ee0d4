package dev.jgen.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.when;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;

/**
 * job.prefix_group_tokens (issue 28): the attempt's pending pairs ordered prefix group by prefix group, so that rows
 * whose prompts share their first tokens (a long system prompt, few-shot examples, a rubric) are neighbours: cut into
 * the same chunks, given to the same task ({@link ChunkedRun#spread}: contiguous ranges), started together, and met by
 * one engine's prefix cache while it still holds the prefix. Groups follow each other in the order of their first row,
 * rows within a group keep input order, and a pair that was not rendered (a row error) is a group of its own at its
 * input position. The order is a dense column {@link InputColumns#ORDER}, 0..n-1, that replaces the input position
 * for chunking and resume; it is a function of the pairs alone, so a recomputed partition orders them the same.
 * Longest-first still holds inside a task's read-ahead (rows of equal budget keep this order).
 */
final class PrefixGroups {
  private PrefixGroups() {}

  /**
   * @param samples the pending pairs (input columns, key, row number and sample)
   * @param requests their rendered requests ({@link RenderedRequests})
   * @param n samples per row
   * @return {@code samples} with {@link InputColumns#ORDER}
   */
  static Dataset<Row> ordered(SparkSession spark, Dataset<Row> samples, Dataset<Row> requests, int n) {
    Dataset<Row> prefixes = requests.select(col(RenderedRequests.KEY), col(RenderedRequests.SAMPLE), col(RenderedRequests.PREFIX));
    Column position = col(InputColumns.ROW).multiply(n).plus(col(InputColumns.SAMPLE));
    Dataset<Row> keyed = samples.join(prefixes, col(InputColumns.KEY).equalTo(col(RenderedRequests.KEY))
            .and(col(InputColumns.SAMPLE).equalTo(col(RenderedRequests.SAMPLE))), "left")
        .drop(RenderedRequests.KEY, RenderedRequests.SAMPLE)
        .withColumn("_jgen_position", position);
    Column groupFirst = when(col(RenderedRequests.PREFIX).isNull(), col("_jgen_position"))
        .otherwise(min(col("_jgen_position")).over(Window.partitionBy(col(RenderedRequests.PREFIX))));
    Dataset<Row> sorted = keyed.withColumn("_jgen_group_first", groupFirst)
        .sort(col("_jgen_group_first"), col("_jgen_position"))
        .drop("_jgen_group_first", "_jgen_position", RenderedRequests.PREFIX);
    return RowIndex.append(spark, sorted, InputColumns.ORDER);
  }
}
