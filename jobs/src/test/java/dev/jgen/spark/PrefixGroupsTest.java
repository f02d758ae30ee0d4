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
        spark.createDataFrame(requests, RenderedRequests.SCHEMA), 2);
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
