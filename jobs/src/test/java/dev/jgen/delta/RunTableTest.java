package dev.jgen.delta;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jgen.testing.TestSpark;
import io.delta.tables.DeltaTable;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.delta.DeltaLog;
import org.apache.spark.sql.delta.Snapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.jdk.javaapi.CollectionConverters;

/** The generations table Kernel creates is the one Delta-Spark made before: Spark appends to it and reads its changes. */
class RunTableTest {
  @TempDir Path dir;

  @Test
  void theTableKernelCreatesHasDeltaSparksSchemaPartitioningPropertiesAndProtocol() {
    SparkSession spark = TestSpark.get();
    String byKernel = dir.resolve("by_kernel").toString();
    String bySpark = dir.resolve("by_spark").toString();
    assertEquals(0, RunTable.openOrCreate(spark, byKernel, OutputSchema.SPEC).lastAttempt("r"));
    // What openOrCreate ran before this change, as the reference.
    DeltaTable.createIfNotExists(spark).location(bySpark).addColumns(OutputSchema.SCHEMA).partitionedBy("run_id")
        .property("delta.enableChangeDataFeed", "true").property("delta.appendOnly", "false").execute();
    Snapshot k = DeltaLog.forTable(spark, byKernel).update(false, scala.Option.empty(), scala.Option.empty());
    Snapshot s = DeltaLog.forTable(spark, bySpark).update(false, scala.Option.empty(), scala.Option.empty());
    assertEquals(s.schema(), k.schema());
    assertEquals(OutputSchema.SCHEMA, k.schema());
    assertEquals(List.of("run_id"), CollectionConverters.asJava(k.metadata().partitionColumns()));
    assertEquals(CollectionConverters.asJava(s.metadata().configuration()), CollectionConverters.asJava(k.metadata().configuration()));
    assertEquals(Map.of("delta.enableChangeDataFeed", "true", "delta.appendOnly", "false"),
        CollectionConverters.asJava(k.metadata().configuration()));
    assertEquals(s.protocol(), k.protocol());

    // Opened again, it is an existing jgen table; Spark's idempotent append and the change feed work on it.
    RunTable t = RunTable.openOrCreate(spark, byKernel, OutputSchema.SPEC);
    Row row = new OutputRow().set("run_id", "r").set("sample_index", 0).set("row_key", "q1").set("input_row", 0L)
        .set("attempt", 1).set("status", "ok").set("created_at", new java.sql.Timestamp(0)).toRow();
    var rows = spark.createDataFrame(List.of(row), OutputSchema.SCHEMA);
    t.appendChunk(rows, "r", 1, 0, "{}");
    t.appendChunk(rows, "r", 1, 0, "{}"); // the same chunk again: a no-op
    assertEquals(1, t.all().count());
    assertEquals(1, t.lastAttempt("r"));
    assertEquals(1, spark.read().format("delta").option("readChangeFeed", "true").option("startingVersion", 1).load(byKernel)
        .where("_change_type = 'insert'").count());
  }

  @Test
  void aMultiTurnKindsTableIsMadeByKernelAsDeltaSparkMadeItBefore() {
    SparkSession spark = TestSpark.get();
    org.apache.spark.sql.types.StructType schema = new org.apache.spark.sql.types.StructType()
        .add("run_id", "string").add("row_key", "string").add("choice_index", "int").add("attempt", "int")
        .add("status", "string").add("created_at", "timestamp");
    RunTable.Spec spec = new RunTable.Spec(TableKind.MTBENCH, schema, "choice_index", Map.of("delta.enableChangeDataFeed", "true"),
        List.of());
    String byKernel = dir.resolve("eval_kernel").toString();
    String bySpark = dir.resolve("eval_spark").toString();
    RunTable.openOrCreate(spark, byKernel, spec);
    // What the multi-turn kinds ran before their tables were made like every other kind's.
    DeltaTable.createIfNotExists(spark).location(bySpark).addColumns(schema).partitionedBy("run_id")
        .property("delta.enableChangeDataFeed", "true").execute();
    Snapshot k = DeltaLog.forTable(spark, byKernel).update(false, scala.Option.empty(), scala.Option.empty());
    Snapshot s = DeltaLog.forTable(spark, bySpark).update(false, scala.Option.empty(), scala.Option.empty());
    assertEquals(s.schema(), k.schema());
    assertEquals(CollectionConverters.asJava(s.metadata().partitionColumns()), CollectionConverters.asJava(k.metadata().partitionColumns()));
    assertEquals(CollectionConverters.asJava(s.metadata().configuration()), CollectionConverters.asJava(k.metadata().configuration()));
    assertEquals(s.protocol(), k.protocol());
    // A table of another kind's schema at the path is refused, naming the kind.
    RefusedException e = org.junit.jupiter.api.Assertions.assertThrows(RefusedException.class,
        () -> RunTable.openOrCreate(spark, byKernel, OutputSchema.SPEC));
    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("not a jgen generations table"), e.getMessage());
  }

  @Test
  void chunkIdsComeFromTheKindsStableIdAndKeepTheIdsEarlierTablesHold() {
    // The ids tables written before kinds had stable ids hold (their fences and resumes depend on them).
    assertEquals("jgen-r1-attempt-2-chunk-", TableKind.GENERATE.chunkIdPrefix("r1", 2));
    assertEquals("jgen-MT-Bench-answers-r1-attempt-2-chunk-", TableKind.MTBENCH.chunkIdPrefix("r1", 2));
    assertEquals("jgen-self-chat-r1-attempt-2-chunk-", TableKind.SELFCHAT.chunkIdPrefix("r1", 2));
    assertEquals("jgen-MT-Bench-judgments-r1-attempt-2-chunk-", TableKind.JUDGE.chunkIdPrefix("r1", 2));
    assertEquals("jgen-magpie-r1-attempt-2-chunk-", TableKind.MAGPIE.chunkIdPrefix("r1", 2));
    assertEquals("jgen-score-r1-attempt-2-chunk-", TableKind.SCORE.chunkIdPrefix("r1", 2));
    assertEquals("jgen-r1-attempt-2", TableKind.JUDGE.jobGroup("r1", 2));
  }
}
