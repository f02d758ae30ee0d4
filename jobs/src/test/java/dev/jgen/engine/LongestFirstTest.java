package dev.jgen.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LongestFirstTest {
  /** Items are [id, budget]; the budget function reads the second. */
  private static List<int[]> drain(Iterator<int[]> it) {
    List<int[]> out = new ArrayList<>();
    it.forEachRemaining(out::add);
    return out;
  }

  private static List<Integer> ids(List<int[]> items) {
    return items.stream().map(a -> a[0]).toList();
  }

  @Test
  void largestBudgetFirstWithTiesInInputOrderOverAReadAheadThatGrows() {
    // Held before each yield: 1, 1, 2, 2, 3, ... (one more per two yielded), up to the lookahead of 10.
    List<int[]> in = List.of(new int[] {0, 8}, new int[] {1, 48}, new int[] {2, 16}, new int[] {3, 48}, new int[] {4, 8},
        new int[] {5, 64}, new int[] {6, 32});
    // yield 0 (holds {0}); 1 ({1}); 3 ({2, 3}); 2 ({2, 4}); 5 ({4, 5, 6}); 6 ({4, 6}); 4.
    assertEquals(List.of(0, 1, 3, 2, 5, 6, 4), ids(drain(new LongestFirst<>(in.iterator(), 10, a -> a[1]))));
  }

  @Test
  void aReadAheadOfOneIsInputOrderAndEqualBudgetsKeepIt() {
    List<int[]> in = List.of(new int[] {0, 8}, new int[] {1, 48}, new int[] {2, 16});
    assertEquals(List.of(0, 1, 2), ids(drain(new LongestFirst<>(in.iterator(), 1, a -> a[1]))));
    List<int[]> same = List.of(new int[] {0, 5}, new int[] {1, 5}, new int[] {2, 5}, new int[] {3, 5});
    assertEquals(List.of(0, 1, 2, 3), ids(drain(new LongestFirst<>(same.iterator(), 3, a -> a[1]))));
  }

  @Test
  void holdsAtMostTheReadAheadAndYieldsEveryItemOnce() {
    Random r = new Random(3);
    List<int[]> in = new ArrayList<>();
    for (int i = 0; i < 5000; i++) {
      in.add(new int[] {i, 1 + r.nextInt(512)});
    }
    int lookahead = 37;
    int[] pulled = {0};
    Iterator<int[]> counting = new Iterator<>() {
      final Iterator<int[]> base = in.iterator();

      @Override
      public boolean hasNext() {
        return base.hasNext();
      }

      @Override
      public int[] next() {
        pulled[0]++;
        return base.next();
      }
    };
    LongestFirst<int[]> lf = new LongestFirst<>(counting, lookahead, a -> a[1]);
    List<int[]> out = new ArrayList<>();
    while (lf.hasNext()) {
      int[] next = lf.next();
      out.add(next);
      assertTrue(pulled[0] - out.size() < lookahead, "held " + (pulled[0] - out.size()) + " after yielding " + out.size());
    }
    assertEquals(in.size(), out.size());
    assertEquals(ids(in), ids(out).stream().sorted().toList(), "every item exactly once");
    // The last items started are short ones: the read-ahead keeps the shortest it has seen for the end.
    double tailMean = out.subList(out.size() - lookahead, out.size()).stream().mapToInt(a -> a[1]).average().orElseThrow();
    double allMean = in.stream().mapToInt(a -> a[1]).average().orElseThrow();
    assertTrue(tailMean < allMean / 4, "tail mean budget " + tailMean + " vs " + allMean);
  }
}
