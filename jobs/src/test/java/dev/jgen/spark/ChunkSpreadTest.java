package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.jgen.testing.TestSpark;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import scala.Tuple2;

/**
 * How a chunk's items reach its tasks. The items come out of a shuffle (the input's keying and the resume's anti-join),
 * whose order Spark does not promise; after an executor loss Spark may recompute them in another order. A spread whose
 * result depends on that order is "indeterminate" and Spark aborts the chunk's write rather than re-run it.
 */
class ChunkSpreadTest {
  @Test
  void itemsAreSpreadByPositionRangeSoARecomputedShuffleSendsEachToTheSameTaskInOrder() {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(TestSpark.get().sparkContext());
    List<Long> positions = LongStream.range(0, 40).boxed().toList();
    // items read back through a shuffle, like a chunk's pending rows: Spark knows their order is not fixed
    JavaRDD<Long> shuffled = jsc.parallelize(positions, 4).mapToPair(p -> new Tuple2<>(p % 3, p))
        .partitionBy(new HashPartitioner(3)).values();
    assertEquals("UNORDERED", shuffled.rdd().outputDeterministicLevel().toString());
    // the premise: a round robin over such input is what Spark refuses to re-run
    assertEquals("INDETERMINATE", shuffled.repartition(2).rdd().outputDeterministicLevel().toString());

    JavaRDD<Long> spread = ChunkedRun.spread(shuffled, 2, p -> p, 0, 39);
    assertNotEquals("INDETERMINATE", spread.rdd().outputDeterministicLevel().toString());
    assertEquals(2, spread.getNumPartitions());
    List<List<Long>> tasks = spread.glom().collect();
    List<Long> all = new ArrayList<>();
    for (int task = 0; task < tasks.size(); task++) {
      // A contiguous range per task, in position order: a prefix group (neighbours in position) meets one task.
      assertEquals(LongStream.range(task * 20L, task * 20L + 20).boxed().toList(), tasks.get(task), "task " + task);
      all.addAll(tasks.get(task));
    }
    all.sort(null);
    assertEquals(positions, all, "every item exactly once");
  }
}
