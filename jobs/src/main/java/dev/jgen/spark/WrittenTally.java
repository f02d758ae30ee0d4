package dev.jgen.spark;

import dev.jgen.delta.OutputRow;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.util.AccumulatorV2;

/**
 * What an attempt's written rows hold, tallied as the tasks build them: rows by status, the token columns' sums, and
 * each warning's count, read from the output row by column name (the same values the table gets).
 *
 * <p>Exact for the committed rows, so a first attempt's summary needs no read of the table (two Spark queries, seconds
 * of a small run): the rows are made in the write's own tasks, and Spark merges a task's accumulator updates only when
 * the task succeeds, once per partition of a job; a chunk whose job fails ends the run before any summary.
 *
 * <p>Synchronized: heartbeats read a running task's accumulators on another thread (the executor's, and in local mode
 * the driver's, which calls {@link #value()} on the task's own object) while the task adds rows.
 */
public final class WrittenTally extends AccumulatorV2<OutputRow, WrittenTally.Totals> {
  /** The tally's value: a copy (Spark prints an accumulator's value, and shows it in its UI). */
  /** {@code cachedTokens}: the sum of the rows' cached_tokens, null when no row has one (no engine said). */
  public record Totals(long ok, long error, long skipped, long promptTokens, long completionTokens, Map<String, Long> warnings,
      Long cachedTokens) implements java.io.Serializable {}

  private long ok;
  private long error;
  private long skipped;
  private long promptTokens;
  private long completionTokens;
  private long cachedTokens;
  private boolean anyCached;
  private final TreeMap<String, Long> warnings = new TreeMap<>();

  @Override
  public synchronized boolean isZero() {
    return ok == 0 && error == 0 && skipped == 0 && promptTokens == 0 && completionTokens == 0 && !anyCached
        && warnings.isEmpty();
  }

  @Override
  public synchronized WrittenTally copy() {
    WrittenTally c = new WrittenTally();
    c.merge(this);
    return c;
  }

  @Override
  public synchronized void reset() {
    ok = error = skipped = promptTokens = completionTokens = cachedTokens = 0;
    anyCached = false;
    warnings.clear();
  }

  @Override
  public synchronized void add(OutputRow row) {
    switch (String.valueOf(row.get("status"))) {
      case "ok" -> ok++;
      case "error" -> error++;
      case "skipped" -> skipped++;
      default -> throw new IllegalStateException("output row with status " + row.get("status"));
    }
    promptTokens += row.get("prompt_tokens") instanceof Number n ? n.longValue() : 0;
    completionTokens += row.get("completion_tokens") instanceof Number n ? n.longValue() : 0;
    if (row.get("cached_tokens") instanceof Number n) {
      cachedTokens += n.longValue();
      anyCached = true;
    }
    if (row.get("warnings") instanceof String[] ws) {
      for (String w : ws) {
        warnings.merge(w, 1L, Long::sum);
      }
    }
  }

  @Override
  public synchronized void merge(AccumulatorV2<OutputRow, Totals> other) {
    WrittenTally o = (WrittenTally) other;
    ok += o.ok;
    error += o.error;
    skipped += o.skipped;
    promptTokens += o.promptTokens;
    completionTokens += o.completionTokens;
    cachedTokens += o.cachedTokens;
    anyCached |= o.anyCached;
    o.warnings.forEach((w, n) -> warnings.merge(w, n, Long::sum));
  }

  @Override
  public synchronized Totals value() {
    return new Totals(ok, error, skipped, promptTokens, completionTokens, java.util.Collections.unmodifiableMap(new TreeMap<>(warnings)),
        anyCached ? cachedTokens : null);
  }
}
