package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.TestSpark;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.AccumulatorV2;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The executor's heartbeats outlive an accumulator that fails when asked whether it is zero, as Spark 4.2's
 * PartitionKeyedAccumulator (DataFrame caching) does while its task is being deserialized: with Spark's default the
 * heartbeat thread calls isZero, dies on the exception and never beats again (ChunkedRun then hears no task run out of
 * input, and on a cluster the driver drops the executor). The session keeps zero updates
 * ({@link SparkSessions#HEARTBEAT_DROP_ZEROES} false), so the executor never asks.
 */
class HeartbeatTest {
  private static final long ARM = Long.MIN_VALUE;
  private static final long DISARM = Long.MIN_VALUE + 1;

  /** Throws from isZero while armed; a task arms it, waits across heartbeats, then disarms it before it ends. */
  static final class FailingIsZero extends AccumulatorV2<Long, Long> {
    private long sum;
    private volatile boolean armed;

    @Override
    public boolean isZero() {
      if (armed) {
        throw new IllegalStateException("isZero asked while the accumulator is half-read");
      }
      return sum == 0;
    }

    @Override
    public FailingIsZero copy() {
      FailingIsZero c = new FailingIsZero();
      c.sum = sum;
      return c;
    }

    @Override
    public void reset() {
      sum = 0;
      armed = false;
    }

    @Override
    public void add(Long v) {
      if (v == ARM) {
        armed = true;
      } else if (v == DISARM) {
        armed = false;
      } else {
        sum += v;
      }
    }

    @Override
    public void merge(AccumulatorV2<Long, Long> other) {
      sum += ((FailingIsZero) other).sum;
    }

    @Override
    public Long value() {
      return sum;
    }
  }

  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void anAccumulatorThatFailsIsZeroMidTaskDoesNotStopTheHeartbeats() throws Exception {
    SparkSession spark = TestSpark.get();
    assertEquals("false", spark.conf().get(SparkSessions.HEARTBEAT_DROP_ZEROES));
    FailingIsZero failing = new FailingIsZero();
    spark.sparkContext().register(failing, "jgen.test.failing_is_zero");
    // Beats that carry running tasks' accumulator updates come from the executor's heartbeat thread (the driver's
    // own beats carry none).
    AtomicLong taskBeats = new AtomicLong();
    SparkListener counter = new SparkListener() {
      @Override
      public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate update) {
        if (update.accumUpdates().nonEmpty()) {
          taskBeats.incrementAndGet();
        }
      }
    };
    spark.sparkContext().addSparkListener(counter);
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    try {
      // One task holds the armed accumulator across several heartbeats (one a second in the tests' session).
      sc.parallelize(List.of(1), 1).foreach(x -> {
        failing.add(ARM);
        Thread.sleep(3_500);
        failing.add(DISARM);
        failing.add(1L);
      });
      assertEquals(1L, failing.value(), "the task ended and its update arrived");
      // A later task is still heard while it runs: a heartbeat thread that had died would report nothing.
      long before = taskBeats.get();
      sc.parallelize(List.of(1), 1).foreach(x -> Thread.sleep(5_000));
      long until = System.currentTimeMillis() + 30_000;
      while (taskBeats.get() == before && System.currentTimeMillis() < until) {
        Thread.sleep(100);
      }
      assertTrue(taskBeats.get() > before, "heartbeats carried the later task's updates: " + (taskBeats.get() - before));
    } finally {
      spark.sparkContext().removeSparkListener(counter);
    }
  }
}
