package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;
import org.junit.jupiter.api.Test;

/**
 * job.commit_interval_s and a task's tail (issue 28 item 5): when the time limit strikes, a task with at most one window
 * of items left starts them all (cut, they would be a chunk of their own on an idle engine); with more left it starts
 * none of them and reports every one unstarted, in order, so the next chunk generates each once.
 */
class ChunkTaskTailTest {
  private static ChunkTask.Accounting expired() {
    // 1 ms: struck by the time the first item is asked for (the test sleeps past it).
    return new ChunkTask.Accounting(new LongAccumulator(), new CollectionAccumulator<>(), new LongAccumulator(), 1, null, null);
  }

  private static List<Long> items(int n) {
    List<Long> l = new ArrayList<>();
    for (long i = 0; i < n; i++) {
      l.add(i);
    }
    return l;
  }

  /** Items the task starts, and the ones it reports unstarted. */
  private static List<List<Long>> drain(int n, int tail) throws InterruptedException {
    ChunkTask.Accounting a = expired();
    ChunkTask.Bounded<Long> b = ChunkTask.bound(items(n).iterator(), a, x -> x, tail);
    Thread.sleep(5);
    List<Long> started = new ArrayList<>();
    while (b.hasNext()) {
      started.add(b.next());
    }
    b.reportRest();
    assertEquals(1L, a.inputDone().value(), "input done once");
    return List.of(started, new ArrayList<>(a.unstarted().value()));
  }

  @Test
  void aShortTailIsFinishedAndALongOneIsCutWithEveryItemReported() throws Exception {
    assertEquals(List.of(items(6), List.of()), drain(6, 6), "6 left, a tail of 6: all started");
    assertEquals(List.of(List.of(), items(7)), drain(7, 6), "7 left: none started, all 7 reported in order");
    assertEquals(List.of(List.of(), items(3)), drain(3, 0), "no tail: the limit cuts at once");
    assertEquals(List.of(List.of(), List.of()), drain(0, 6), "nothing left");
  }
}
