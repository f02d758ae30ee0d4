package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Small inputs run Spark's expressions interpreted, for the run only; large ones and the user's own settings are left alone. */
class SmallRunTest {
  @TempDir Path dir;

  private static final String FACTORY = "spark.sql.codegen.factoryMode";
  private static final String WHOLE_STAGE = "spark.sql.codegen.wholeStage";

  @Test
  void aSmallInputGetsTheSettingsForTheRunAndTheSessionGetsItsOwnBackAfter() throws Exception {
    SparkSession spark = TestSpark.get();
    Path in = Files.writeString(dir.resolve("small.jsonl"), "{\"id\":\"q1\",\"instruction\":\"こんにちは\"}\n");
    assertFalse(spark.conf().contains(FACTORY));
    try (SmallRun run = SmallRun.forInput(spark, in.toString())) {
      assertTrue(run.applied());
      assertEquals("NO_CODEGEN", spark.conf().get(FACTORY));
      assertEquals("false", spark.conf().get(WHOLE_STAGE));
      // the settings hold for the run's queries: they still compute the same answer
      assertEquals(1, spark.read().json(in.toString()).where("id = 'q1'").count());
    }
    assertFalse(spark.conf().contains(FACTORY));
    assertFalse(spark.conf().contains(WHOLE_STAGE));
    assertEquals("true", spark.conf().get(WHOLE_STAGE)); // Spark's default again
  }

  @Test
  void anInputOverTheLimitOrOneThatCannotBeMeasuredIsLeftCompiled() throws Exception {
    SparkSession spark = TestSpark.get();
    Path big = dir.resolve("big");
    Files.createDirectories(big);
    // a folder of part files, as Spark writes them: their sizes add up past the limit
    Files.write(big.resolve("part-0.jsonl"), new byte[(int) (SmallRun.MAX_INPUT_BYTES / 2) + 1]);
    Files.write(big.resolve("part-1.jsonl"), new byte[(int) (SmallRun.MAX_INPUT_BYTES / 2) + 1]);
    try (SmallRun run = SmallRun.forInput(spark, big.toString())) {
      assertFalse(run.applied());
      assertFalse(spark.conf().contains(FACTORY));
    }
    try (SmallRun run = SmallRun.forInput(spark, dir.resolve("missing").toString())) {
      assertFalse(run.applied());
    }
  }

  @Test
  void aSettingTheUserMadeIsNeitherChangedNorRemoved() throws Exception {
    SparkSession spark = TestSpark.get();
    Path in = Files.writeString(dir.resolve("small.jsonl"), "{\"id\":\"q1\"}\n");
    spark.conf().set(WHOLE_STAGE, "true");
    try {
      try (SmallRun run = SmallRun.forInput(spark, in.toString())) {
        assertTrue(run.applied());
        assertEquals("true", spark.conf().get(WHOLE_STAGE));
        assertEquals("NO_CODEGEN", spark.conf().get(FACTORY));
      }
      assertTrue(spark.conf().contains(WHOLE_STAGE));
      assertEquals("true", spark.conf().get(WHOLE_STAGE));
      assertFalse(spark.conf().contains(FACTORY));
    } finally {
      spark.conf().unset(WHOLE_STAGE);
    }
  }
}
