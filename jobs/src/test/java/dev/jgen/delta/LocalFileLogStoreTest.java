package dev.jgen.delta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class LocalFileLogStoreTest {
  @TempDir java.nio.file.Path dir;

  private static String commit(int version) {
    return String.format("%020d.json", version);
  }

  @Test
  @Timeout(120)
  void ofWritersRacingForEachVersionExactlyOneWinsAndItsCommitIsWhatIsRead() throws Exception {
    int writers = 6;
    int versions = 60;
    Configuration conf = new Configuration();
    Path log = new Path(Files.createDirectories(dir.resolve("_delta_log")).toUri());
    AtomicIntegerArray wins = new AtomicIntegerArray(versions);
    String[] winner = new String[versions];
    CyclicBarrier together = new CyclicBarrier(writers);
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        // a store of its own per writer, as each job (process) has: nothing in the JVM orders them
        LocalFileLogStore store = new LocalFileLogStore(conf);
        String me = "writer-" + w;
        done.add(pool.submit(() -> {
          for (int v = 0; v < versions; v++) {
            together.await(30, TimeUnit.SECONDS);
            // a few lines, as a commit has (commitInfo, add, ...), so a torn or mixed file would show
            List<String> lines = List.of("{\"commitInfo\":\"" + me + "\"}", "{\"add\":\"" + me + "-" + v + "\"}");
            try {
              store.write(new Path(log, commit(v)), lines.iterator(), false, conf);
              wins.incrementAndGet(v);
              winner[v] = me;
            } catch (FileAlreadyExistsException lost) {
              // another writer's commit of v came first
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    LocalFileLogStore reader = new LocalFileLogStore(conf);
    for (int v = 0; v < versions; v++) {
      assertEquals(1, wins.get(v), "writers told their commit of version " + v + " succeeded");
      List<String> read = new ArrayList<>();
      reader.read(new Path(log, commit(v)), conf).forEachRemaining(read::add);
      assertEquals(List.of("{\"commitInfo\":\"" + winner[v] + "\"}", "{\"add\":\"" + winner[v] + "-" + v + "\"}"), read,
          "version " + v + " holds the commit of the writer told it won");
    }
    try (var left = Files.list(dir.resolve("_delta_log"))) {
      assertEquals(versions, left.count(), "no temporary or checksum files left beside the commits");
    }
  }

  @Test
  void anOverwriteReplacesTheFileAndAStaleChecksumFileIsRemoved() throws Exception {
    Configuration conf = new Configuration();
    LocalFileLogStore store = new LocalFileLogStore(conf);
    java.nio.file.Path logDir = Files.createDirectories(dir.resolve("t").resolve("_delta_log"));
    Path last = new Path(logDir.resolve("_last_checkpoint").toUri());
    store.write(last, List.of("{\"version\":1}").iterator(), true, conf);
    store.write(last, List.of("{\"version\":2}").iterator(), true, conf);
    assertEquals("{\"version\":2}\n", Files.readString(logDir.resolve("_last_checkpoint"), StandardCharsets.UTF_8));
    // a checksum side file of Hadoop's for a name no commit holds yet (left by another store's crash)
    Files.writeString(logDir.resolve("." + commit(3) + ".crc"), "stale");
    store.write(new Path(logDir.resolve(commit(3)).toUri()), List.of("{\"x\":1}").iterator(), false, conf);
    assertFalse(Files.exists(logDir.resolve("." + commit(3) + ".crc")));
    List<String> read = new ArrayList<>();
    // read through Hadoop's checksummed local file system, as Delta reads
    store.read(new Path(logDir.resolve(commit(3)).toUri()), conf).forEachRemaining(read::add);
    assertEquals(List.of("{\"x\":1}"), read);
    assertThrows(FileAlreadyExistsException.class,
        () -> store.write(new Path(logDir.resolve(commit(3)).toUri()), List.of("{}").iterator(), false, conf));
    assertTrue(Files.readString(logDir.resolve(commit(3))).startsWith("{\"x\":1}"));
  }

  @Test
  void sparkAndKernelCommitLocalTablesThroughIt() throws Exception {
    org.apache.spark.sql.SparkSession spark = dev.jgen.testing.TestSpark.get();
    String sparkTable = dir.resolve("by_spark").toString();
    spark.range(3).write().format("delta").save(sparkTable);
    spark.range(2).write().format("delta").mode("append").save(sparkTable);
    String kernelTable = dir.resolve("by_kernel").toString();
    RunsTable.openOrCreate(spark, kernelTable)
        .upsert(new RunRecord("r", 1, "running", "owner", "hash", "{}", "model", "sha", "v", RunsTable.now(),
            RunsTable.now(), null, 0L, 0L, 0L, 0L, 0L, 0L, 0L, 0.0, 0L, 0.0, 0.0, "", 0L));
    for (String table : List.of(sparkTable, kernelTable)) {
      try (var files = Files.list(java.nio.file.Path.of(table, "_delta_log"))) {
        List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
        assertTrue(names.stream().anyMatch(n -> n.endsWith("1.json")), table + ": " + names);
        // Delta's default store (HDFSLogStore) leaves Hadoop's checksum file beside each commit: .0000N.json.crc
        assertTrue(names.stream().noneMatch(n -> n.startsWith(".") && n.endsWith(".json.crc")), table + ": " + names);
      }
    }
    assertEquals(5, spark.read().format("delta").load(sparkTable).count());
  }

  @Test
  @Timeout(value = 3, unit = TimeUnit.MINUTES)
  void aCheckpointIsNeverSeenHalfWritten() throws Exception {
    // A reader that lists _delta_log while a checkpoint is written must see no checkpoint or a whole one: Delta writes
    // it in place when the store says partial writes are invisible, and a reader then fails on a file of a few bytes.
    org.apache.spark.sql.SparkSession spark = dev.jgen.testing.TestSpark.get();
    String table = dir.resolve("checkpointed").toString();
    java.nio.file.Path logDir = java.nio.file.Path.of(table, "_delta_log");
    // many files, so each checkpoint holds many add actions and takes a while to write
    spark.range(4000).repartition(200).write().format("delta").save(table);
    io.delta.kernel.engine.Engine engine = KernelTables.engine(spark);
    io.delta.kernel.Table kernel = io.delta.kernel.Table.forPath(engine, table);
    java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
    java.util.Set<String> partial = java.util.concurrent.ConcurrentHashMap.newKeySet(); // each name once
    java.util.concurrent.atomic.AtomicLong looks = new java.util.concurrent.atomic.AtomicLong();
    Thread reader = new Thread(() -> {
      while (writing.get()) {
        try (var files = Files.list(logDir)) {
          for (java.nio.file.Path f : files.filter(f -> f.getFileName().toString().endsWith(".checkpoint.parquet")).toList()) {
            byte[] bytes = Files.readAllBytes(f);
            looks.incrementAndGet();
            boolean whole = bytes.length >= 12 && new String(bytes, bytes.length - 4, 4, StandardCharsets.US_ASCII).equals("PAR1");
            if (!whole) {
              partial.add(f.getFileName().toString());
            }
          }
        } catch (java.io.IOException e) {
          // a file renamed or removed between listing and reading: not a partial checkpoint
        }
      }
    });
    reader.start();
    try {
      for (int v = 1; v <= 8; v++) {
        spark.range(10).repartition(2).write().format("delta").mode("append").save(table);
        kernel.checkpoint(engine, v);
      }
    } finally {
      writing.set(false);
      reader.join(60_000);
    }
    try (var files = Files.list(logDir)) {
      assertEquals(8, files.filter(f -> f.getFileName().toString().endsWith(".checkpoint.parquet")).count());
    }
    assertTrue(looks.get() > 0, "the reader read checkpoints");
    assertEquals(java.util.Set.of(), partial, "checkpoints seen half-written (fewer than 12 bytes or no closing PAR1)");
  }
}
