package dev.jgen.delta;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.delta.DeltaOperations;
import org.apache.spark.sql.delta.OptimisticTransaction;
import org.apache.spark.sql.delta.actions.Action;
import org.apache.spark.sql.delta.actions.SetTransaction;
import scala.Option;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The storage side of the run lock: when an attempt takes a run over from an attempt that never ended (killed, or
 * paused past its lease and possibly still alive), it first fences off every chunk the old attempt may still commit.
 * Each chunk commits with its own idempotent transaction id ({@code <prefix><chunk>}, version 0); the fence records
 * each of the old attempt's ids not committed yet, from chunk 0 to its highest committed chunk plus {@code margin}
 * (chunks are numbered in submission order and at most twice {@code job.chunks_in_flight} are uncommitted beyond the
 * highest committed one: {@code ChunkedRun.maxUncommitted}), in one commit. By Delta's rules a chunk of the old
 * attempt whose transaction started before the fence then fails at its commit (a concurrent commit set an application
 * id it read: ConcurrentTransactionException),
 * and one that starts after is skipped as already written. Either way none of its rows reach the table once the fence
 * is committed, whatever the old process does when it runs again: the new attempt plans its rows after the fence.
 */
public final class ChunkFence {
  /** The chunk id suffix of an attempt's job.reuse commit (its other chunks are numbered). */
  public static final String REUSE_CHUNK = "reuse";

  private ChunkFence() {}

  /** @return how many chunk ids were fenced off */
  public static int fence(SparkSession spark, String tablePath, String appIdPrefix, int margin) {
    RuntimeException last = null;
    for (int tries = 0; tries < 10; tries++) {
      try {
        return fenceOnce(spark, tablePath, appIdPrefix, margin);
      } catch (java.util.ConcurrentModificationException e) {
        // The old attempt committed a chunk meanwhile (it set an id this fence read): read again and fence the rest.
        last = e;
      }
    }
    throw last;
  }

  private static int fenceOnce(SparkSession spark, String tablePath, String appIdPrefix, int margin) {
    // Through DeltaTable: DeltaLog.forTable's overloads name Hadoop types, which are not on the compile classpath.
    OptimisticTransaction txn = io.delta.tables.DeltaTable.forPath(spark, tablePath).deltaLog().startTransaction();
    int highest = -1;
    for (SetTransaction t : CollectionConverters.asJava(txn.snapshot().setTransactions())) {
      if (t.appId().startsWith(appIdPrefix)) {
        try {
          highest = Math.max(highest, Integer.parseInt(t.appId().substring(appIdPrefix.length())));
        } catch (NumberFormatException e) {
          // not a chunk id of this attempt (a run id that happens to extend the prefix)
        }
      }
    }
    long now = System.currentTimeMillis();
    List<Action> actions = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    ids.add(appIdPrefix + REUSE_CHUNK);
    for (int chunk = 0; chunk <= highest + margin; chunk++) {
      ids.add(appIdPrefix + chunk);
    }
    for (String id : ids) {
      // Reading the id also makes this commit conflict with a chunk commit of the old attempt that lands first.
      if (txn.txnVersion(id) < 0) {
        actions.add(new SetTransaction(id, 0L, Option.apply((Object) now)));
      }
    }
    if (!actions.isEmpty()) {
      txn.commit(CollectionConverters.asScala(actions).toList(), DeltaOperations.ManualUpdate$.MODULE$);
    }
    return actions.size();
  }
}
