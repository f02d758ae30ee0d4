package dev.jgen.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.when;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;

/**
 * job.prefix_group_tokens (issue 28) and engine.group_by_adapter (issue 31): the attempt's pending pairs ordered so that
 * rows an engine serves best together are neighbours: cut into the same chunks, given to the same task
 * ({@link ChunkedRun#spread}: contiguous ranges), started together.
 * <ul>
 *   <li>By adapter: rows of one LoRA adapter (and scale) follow each other, adapters in the order of their first row,
 *       so a decode step holds one adapter set (llama.cpp decodes each set apart) and a task meets few adapters.
 *   <li>By prefix, within that: rows whose prompts share their first tokens (a long system prompt, few-shot examples,
 *       a rubric) follow each other, groups in the order of their first row, and meet one engine's prefix cache while
 *       it still holds the prefix.
 * </ul>
 * Rows keep input order within a group, and a pair that was not rendered (a row error) is a group of its own at its
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
   * @param byPrefix whether rows are grouped by prompt prefix
   * @param byAdapter whether rows are grouped by adapter first
   * @return {@code samples} with {@link InputColumns#ORDER}
   */
  static Dataset<Row> ordered(SparkSession spark, Dataset<Row> samples, Dataset<Row> requests, int n, boolean byPrefix,
      boolean byAdapter) {
    Dataset<Row> prefixes = requests.select(col(RenderedRequests.KEY), col(RenderedRequests.SAMPLE), col(RenderedRequests.PREFIX),
        col(RenderedRequests.ADAPTER_SHA256), col(RenderedRequests.ADAPTER_SCALE));
    Column position = col(InputColumns.ROW).multiply(n).plus(col(InputColumns.SAMPLE));
    Dataset<Row> keyed = samples.join(prefixes, col(InputColumns.KEY).equalTo(col(RenderedRequests.KEY))
            .and(col(InputColumns.SAMPLE).equalTo(col(RenderedRequests.SAMPLE))), "left")
        .drop(RenderedRequests.KEY, RenderedRequests.SAMPLE)
        .withColumn("_jgen_position", position);
    Column unrendered = col(RenderedRequests.PREFIX).isNull();
    // Window partitions group nulls together: the base model's rows (no adapter) are one adapter group.
    Column adapterFirst = !byAdapter ? lit(0L) : when(unrendered, col("_jgen_position"))
        .otherwise(min(col("_jgen_position")).over(Window.partitionBy(col(RenderedRequests.ADAPTER_SHA256), col(RenderedRequests.ADAPTER_SCALE))));
    Column groupFirst = !byPrefix ? col("_jgen_position") : when(unrendered, col("_jgen_position"))
        .otherwise(min(col("_jgen_position")).over(!byAdapter ? Window.partitionBy(col(RenderedRequests.PREFIX))
            : Window.partitionBy(col(RenderedRequests.ADAPTER_SHA256), col(RenderedRequests.ADAPTER_SCALE), col(RenderedRequests.PREFIX))));
    Dataset<Row> sorted = keyed.withColumn("_jgen_adapter_first", adapterFirst)
        .withColumn("_jgen_group_first", groupFirst)
        .sort(col("_jgen_adapter_first"), col("_jgen_group_first"), col("_jgen_position"))
        .drop("_jgen_adapter_first", "_jgen_group_first", "_jgen_position", RenderedRequests.PREFIX, RenderedRequests.ADAPTER_SHA256,
            RenderedRequests.ADAPTER_SCALE);
    return RowIndex.append(spark, sorted, InputColumns.ORDER);
  }
}
