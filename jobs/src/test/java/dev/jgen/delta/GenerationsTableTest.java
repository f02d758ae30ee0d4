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
class GenerationsTableTest {
  @TempDir Path dir;

  @Test
  void theTableKernelCreatesHasDeltaSparksSchemaPartitioningPropertiesAndProtocol() {
    SparkSession spark = TestSpark.get();
    String byKernel = dir.resolve("by_kernel").toString();
    String bySpark = dir.resolve("by_spark").toString();
    assertEquals(0, GenerationsTable.openOrCreate(spark, byKernel).lastAttempt("r"));
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
    GenerationsTable t = GenerationsTable.openOrCreate(spark, byKernel);
    Row row = new OutputRow().set("run_id", "r").set("sample_index", 0).set("row_key", "q1").set("input_row", 0L)
        .set("attempt", 1).set("status", "ok").set("created_at", new java.sql.Timestamp(0)).toRow();
    var rows = spark.createDataFrame(List.of(row), OutputSchema.SCHEMA);
    t.append(rows, "app", 0, "{}");
    t.append(rows, "app", 0, "{}"); // the same chunk again: a no-op
    assertEquals(1, t.all().count());
    assertEquals(1, t.lastAttempt("r"));
    assertEquals(1, spark.read().format("delta").option("readChangeFeed", "true").option("startingVersion", 1).load(byKernel)
        .where("_change_type = 'insert'").count());
  }
}
