package dev.jgen.engine.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.engine.EngineSpec;
import dev.jgen.spark.GpuStage;
import dev.jgen.testing.TestSpark;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.resource.ResourceProfile;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;

/** Stage-level GPU scheduling: only djl-serving on a cluster asks for GPUs. */
class GpuStageTest {
  static final EngineSpec DJL = new EngineSpec("djl-serving", "m", Map.of("tensor_parallel_degree", "2"));

  @Test
  void localModeAndOtherEnginesKeepTheRdd() {
    var spark = TestSpark.get();
    JavaRDD<Row> rdd = new org.apache.spark.api.java.JavaSparkContext(spark.sparkContext())
        .parallelize(List.of(RowFactory.create("a")), 1);
    assertSame(rdd, GpuStage.forGeneration(rdd, spark.sparkContext(), DJL), "local mode never schedules GPU tasks");
    assertSame(rdd, GpuStage.forGeneration(rdd, spark.sparkContext(), new EngineSpec("llamacpp", "x", Map.of())));
    assertEquals(1, GpuStage.forGeneration(rdd, spark.sparkContext(), DJL).count());
  }

  @Test
  void profiles() {
    assertTrue(GpuStage.profile(new SparkConf(false), new EngineSpec("llamacpp", "x", Map.of())).isEmpty());
    assertTrue(GpuStage.profile(new SparkConf(false), DJL).isEmpty(), "executors without GPUs: asking would hang");

    SparkConf c = new SparkConf(false).set("spark.executor.resource.gpu.amount", "8").set("spark.executor.cores", "16");
    ResourceProfile p = GpuStage.profile(c, DJL).orElseThrow();
    assertEquals(0.5, p.taskResourcesJMap().get("gpu").amount(), 1e-9, "16 cores over 8 GPUs: 2 tasks per GPU");
    assertTrue(p.executorResourcesJMap().isEmpty(), "without dynamic allocation only a task profile is allowed");

    c.set("spark.task.resource.gpu.amount", "0.25");
    assertEquals(0.25, GpuStage.profile(c, DJL).orElseThrow().taskResourcesJMap().get("gpu").amount(), 1e-9);

    SparkConf dyn = new SparkConf(false).set("spark.dynamicAllocation.enabled", "true")
        .set("spark.executor.resource.gpu.discoveryScript", "./gpu-discovery.sh");
    ResourceProfile d = GpuStage.profile(dyn, DJL).orElseThrow();
    assertEquals(2, d.executorResourcesJMap().get("gpu").amount(), "default: the GPUs of one server");
    assertEquals("./gpu-discovery.sh", d.executorResourcesJMap().get("gpu").discoveryScript());
    assertEquals(0.25, d.taskResourcesJMap().get("gpu").amount(), 1e-9, "4 tasks per GPU when cores are unknown");
  }
}
