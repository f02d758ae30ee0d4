package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * job.prefix_group_tokens (issue 28 item 2): rows that share a prompt prefix become neighbours in the attempt's order,
 * so they are cut into the same chunks and reach the same task, without losing or repeating a (row, sample).
 */
class PrefixGroupsTest {
  @TempDir Path dir;

  /** Interleaved groups a, b, c (two samples each) and one row that could not be rendered. */
  @Test
  void groupsFollowEachOtherByTheirFirstRowAndKeepInputOrderWithin() {
    SparkSession spark = TestSpark.get();
    StructType samplesSchema = new StructType()
        .add(InputColumns.ROW, DataTypes.LongType, false)
        .add(InputColumns.SAMPLE, DataTypes.IntegerType, false)
        .add(InputColumns.KEY, DataTypes.StringType, false);
    String[] groupOf = {"b", "a", "c", "a", "b", "-", "c", "a", "b"}; // "-": a row error, not rendered
    Map<String, Long> hashes = Map.of("a", 11L, "b", 22L, "c", 33L);
    List<Row> samples = new ArrayList<>();
    List<Row> requests = new ArrayList<>();
    for (int row = 0; row < groupOf.length; row++) {
      for (int sample = 0; sample < 2; sample++) {
        samples.add(RowFactory.create((long) row, sample, "k" + row));
        if (!groupOf[row].equals("-")) {
          requests.add(RowFactory.create("k" + row, sample, "k" + row, (long) row, "prompt", null, null, null, null,
              hashes.get(groupOf[row])));
        }
      }
    }
    Dataset<Row> ordered = PrefixGroups.ordered(spark, spark.createDataFrame(samples, samplesSchema).repartition(3),
        spark.createDataFrame(requests, RenderedRequests.SCHEMA), 2, true, false);
    TreeMap<Long, String> byOrder = new TreeMap<>();
    for (Row r : ordered.collectAsList()) {
      long row = r.getLong(r.fieldIndex(InputColumns.ROW));
      int sample = r.getInt(r.fieldIndex(InputColumns.SAMPLE));
      String previous = byOrder.put(r.getLong(r.fieldIndex(InputColumns.ORDER)), row + "/" + sample);
      assertEquals(null, previous, "each order once");
    }
    assertEquals(18, byOrder.size(), "every (row, sample) once");
    assertEquals(0L, byOrder.firstKey());
    assertEquals(17L, byOrder.lastKey(), "dense");
    // b's first row is 0, a's 1, c's 2; the row error (row 5) sits at its input position among the groups' first rows.
    List<String> expected = List.of("0/0", "0/1", "4/0", "4/1", "8/0", "8/1", // b
        "1/0", "1/1", "3/0", "3/1", "7/0", "7/1", // a
        "2/0", "2/1", "6/0", "6/1", // c
        "5/0", "5/1"); // not rendered: a group of its own, ordered by its own position (10, after c's first at 4)
    assertEquals(expected, new ArrayList<>(byOrder.values()));
  }

  /** (row/sample) in the order {@link PrefixGroups#ordered} gives, checking the order column is dense. */
  private static List<String> order(Dataset<Row> ordered, int pairs) {
    TreeMap<Long, String> byOrder = new TreeMap<>();
    for (Row r : ordered.collectAsList()) {
      long row = r.getLong(r.fieldIndex(InputColumns.ROW));
      assertEquals(null, byOrder.put(r.getLong(r.fieldIndex(InputColumns.ORDER)), String.valueOf(row)), "each order once");
    }
    assertEquals(pairs, byOrder.size(), "every row once");
    assertEquals(pairs - 1L, byOrder.lastKey(), "dense");
    return new ArrayList<>(byOrder.values());
  }

  /**
   * engine.group_by_adapter (issue 31): rows of adapters x, y and the base model (null), interleaved, with prefix groups
   * that cut across them: adapter by adapter in the order of each one's first row (y, base, x), a scale of its own
   * (x at 0.5) a set of its own, prefix groups within an adapter; without it, prefix groups alone.
   */
  @Test
  void rowsOfOneAdapterFollowEachOtherWithPrefixGroupsWithin() {
    SparkSession spark = TestSpark.get();
    StructType samplesSchema = new StructType()
        .add(InputColumns.ROW, DataTypes.LongType, false)
        .add(InputColumns.SAMPLE, DataTypes.IntegerType, false)
        .add(InputColumns.KEY, DataTypes.StringType, false);
    String[] adapterOf = {"y", null, "x", "y", null, "x@0.5", "x", "y", null, "x"};
    long[] prefixOf = {1, 2, 1, 2, 1, 1, 2, 1, 2, 1};
    List<Row> samples = new ArrayList<>();
    List<Row> requests = new ArrayList<>();
    for (int row = 0; row < adapterOf.length; row++) {
      samples.add(RowFactory.create((long) row, 0, "k" + row));
      String a = adapterOf[row];
      String sha = a == null ? null : "sha-" + a.replace("@0.5", "");
      Double scale = a == null ? null : a.endsWith("@0.5") ? 0.5 : 1.0;
      requests.add(RowFactory.create("k" + row, 0, "k" + row, (long) row, "prompt", null, null, sha, scale, prefixOf[row]));
    }
    Dataset<Row> in = spark.createDataFrame(samples, samplesSchema).repartition(3);
    Dataset<Row> rendered = spark.createDataFrame(requests, RenderedRequests.SCHEMA);
    // y: rows 0, 3, 7 (prefix 1 first: 0, 7, then 3); base: 1, 4, 8 (prefix 2 first: 1, 8, then 4); x@1: 2, 6, 9
    // (prefix 1: 2, 9, then 6); x@0.5: 5.
    assertEquals(List.of("0", "7", "3", "1", "8", "4", "2", "9", "6", "5"), order(PrefixGroups.ordered(spark, in, rendered, 1, true, true), 10));
    // Adapters only (no prefix grouping): input order within each adapter.
    assertEquals(List.of("0", "3", "7", "1", "4", "8", "2", "6", "9", "5"), order(PrefixGroups.ordered(spark, in, rendered, 1, false, true), 10));
    // Prefix groups only: the adapter plays no part here (the hash would carry it when engine.group_by_adapter is on).
    assertEquals(List.of("0", "2", "4", "5", "7", "9", "1", "3", "6", "8"), order(PrefixGroups.ordered(spark, in, rendered, 1, true, false), 10));
  }

  private static Path input(Path dir, String name) {
    // Three instructions, each a long shared prefix, interleaved row by row; the question after it differs per row.
    String[] instructions = {"次の文章を丁寧な敬語に書き直してください。文体は新聞記事のように簡潔にし、",
        "以下の質問に三行で答えてください。専門用語には短い説明を添え、",
        "与えられた単語を使って短い物語を書いてください。登場人物は二人までとし、"};
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      lines.add("{\"id\": \"g" + i + "\", \"prompt\": \"" + instructions[i % 3] + "題材は番号 " + i + " です。\"}");
    }
    return TestFiles.jsonl(dir, name, lines);
  }

  /** The commit (chunk) each row of the run was written in, per instruction group. */
  private static Map<Integer, Map<Long, Integer>> chunksByGroup(String table, String run) {
    Map<Integer, Map<Long, Integer>> m = new TreeMap<>();
    Dataset<Row> cdf = TestSpark.get().read().format("delta").option("readChangeFeed", "true").option("startingVersion", 0)
        .load(table).where("run_id = '" + run + "' and _change_type = 'insert'");
    for (Row r : cdf.select("id", "_commit_version").collectAsList()) {
      int group = Integer.parseInt(r.getString(0).substring(1)) % 3;
      m.computeIfAbsent(group, g -> new TreeMap<>()).merge(r.getLong(1), 1, Integer::sum);
    }
    return m;
  }

  /**
   * A run of 12 rows in 3 interleaved prefix groups, chunks of 4: grouped, each chunk holds one group; in input order
   * (job.prefix_group_tokens=0) the chunks mix them. The outputs (greedy) are the same either way, each row once.
   */
  @Test
  void aGroupedRunCommitsEachPrefixGroupTogetherWithTheSameOutputs() {
    Path in = input(dir, "groups.jsonl");
    String table = dir.resolve("gen").toString();
    Map<String, String> outputs = new HashMap<>();
    for (String tokens : List.of("16", "0")) {
      String run = "group-" + tokens;
      Cli c = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
          "--set", "input.path=" + in, "--set", "output.path=" + table, "--set", "run.id=" + run,
          "--set", "generation.max_new_tokens=4", "--set", "generation.temperature=0", "--set", "job.reuse=false",
          "--set", "job.prefix_group_tokens=" + tokens, "--set", "job.chunk_rows=4", "--set", "job.chunks_in_flight=1",
          "--set", "job.partitions=2");
      assertEquals(0, c.code(), c.err());
      JsonNode s = c.summary();
      assertEquals(12, s.get("ok").asLong(), s.toString());
      // Issue 28 item 4: the run's cached tokens in the runs table as in the summary (the rows share long prefixes).
      assertTrue(s.get("cached_tokens").asLong() > 0, s.toString());
      Row attempt = TestSpark.get().read().format("delta").load(table + "_runs")
          .where("run_id = '" + run + "' and status = 'finished'").collectAsList().get(0);
      assertEquals(s.get("cached_tokens").asLong(), (Long) attempt.getAs("cached_tokens"), "runs table against summary");
      Map<Integer, Map<Long, Integer>> chunks = chunksByGroup(table, run);
      for (Map.Entry<Integer, Map<Long, Integer>> g : chunks.entrySet()) {
        if (tokens.equals("16")) {
          assertEquals(1, g.getValue().size(), "group " + g.getKey() + " in one chunk: " + chunks);
        }
      }
      if (tokens.equals("0")) {
        assertTrue(chunks.get(0).size() > 1, "input order mixes the groups over the chunks: " + chunks);
      }
      for (Row r : TestSpark.get().read().format("delta").load(table).where("run_id = '" + run + "'")
          .select("id", "output_text").collectAsList()) {
        String before = outputs.put(r.getString(0), r.getString(1));
        if (before != null) {
          assertEquals(before, r.getString(1), "greedy output of " + r.getString(0) + " does not depend on the order");
        }
      }
    }
    assertEquals(12, outputs.size());
  }
}
