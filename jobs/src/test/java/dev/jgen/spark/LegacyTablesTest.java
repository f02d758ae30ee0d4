package dev.jgen.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.delta.TableKind;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Tables written by the code before the shared attempt runner (commit cf8c02d; how: resources/legacy/make-legacy-tables.sh)
 * resume under today's runner without regenerating or duplicating anything: a {@code generate} run whose job was killed
 * after two chunks (its attempt never ended: today's runner fences it under the chunk ids that code wrote, then
 * generates the rest), and a finished {@code mtbench} run given two more questions.
 */
class LegacyTablesTest {
  /** Where the fixture's inputs were: a run's identity includes input.path as written, so the same path is used. */
  private static final Path F = Path.of("/tmp/jgen-legacy-fixture");
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void unpack() throws Exception {
    deleteTree(F.resolve("tables"));
    Files.createDirectories(F.resolve("in"));
    Process tar = new ProcessBuilder("tar", "-xzf", Path.of("src/test/resources/legacy/legacy-tables.tar.gz").toAbsolutePath().toString(),
        "-C", F.toString()).inheritIO().start();
    assertTrue(tar.waitFor(60, TimeUnit.SECONDS) && tar.exitValue() == 0, "the fixture unpacks");
    // The inputs as the script wrote them: the demo's prompts twice with ids of their own; MT-Bench questions (now four).
    List<String> prompts = new ArrayList<>();
    List<String> demo = Files.readAllLines(TestFiles.conf().resolve("data/demo-prompts.jsonl"), StandardCharsets.UTF_8).stream()
        .filter(l -> !l.isBlank()).toList();
    for (int k = 0; k < 2; k++) {
      for (String line : demo) {
        var o = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(line);
        o.put("id", o.get("id").asText() + "-" + k);
        prompts.add(JSON.writeValueAsString(o));
      }
    }
    Files.write(F.resolve("in/prompts.jsonl"), prompts, StandardCharsets.UTF_8);
    Files.write(F.resolve("in/questions.jsonl"),
        Files.readAllLines(TestFiles.conf().resolve("data/mtbench-jp-sample.jsonl"), StandardCharsets.UTF_8).subList(0, 4),
        StandardCharsets.UTF_8);
  }

  @Test
  void aKilledGenerateRunOfTheEarlierCodeIsFencedAndFinishedWithEachRowOnce() throws Exception {
    String out = F.resolve("tables/generations").toString();
    Dataset<Row> before = TestSpark.get().read().format("delta").load(out);
    long committed = before.count();
    assertTrue(committed > 0 && committed < 24, "the killed job committed some chunks: " + committed);
    Set<String> earlierIds = txnIds(out);
    assertTrue(earlierIds.stream().allMatch(id -> id.startsWith(TableKind.GENERATE.chunkIdPrefix("legacy", 1))),
        "the earlier code's chunk ids are the ones the runner builds for it: " + earlierIds);

    Cli r = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + F.resolve("in/prompts.jsonl"), "--set", "output.path=" + out, "--set", "run.id=legacy",
        "--set", "job.chunk_rows=2", "--set", "generation.max_new_tokens=48");
    assertEquals(0, r.code(), r.err());
    JsonNode s = r.summary();
    assertEquals(2, s.get("attempt").asInt(), s.toString());
    assertEquals(24, s.get("rows_in").asInt(), s.toString());
    assertEquals(24 - committed, s.get("generated_now").asLong(), "only what the killed job had not committed: " + s);
    assertEquals(24, s.get("ok").asInt(), s.toString());

    Dataset<Row> after = TestSpark.get().read().format("delta").load(out);
    assertEquals(24, after.count(), "nothing duplicated");
    assertEquals(24, after.select("row_key", "sample_index").distinct().count(), "nothing lost");
    assertEquals(committed, after.where("attempt = 1").count(), "the earlier attempt's rows stay as they were");
    // The fence recorded the earlier attempt's next chunk ids, under the prefix that code used: a paused job of it
    // could commit nothing more.
    Set<String> ids = txnIds(out);
    assertTrue(ids.contains(TableKind.GENERATE.chunkIdPrefix("legacy", 1) + earlierIds.size()), "fenced: " + ids);
  }

  @Test
  void aFinishedMtBenchRunOfTheEarlierCodeResumesWithOnlyTheNewQuestions() {
    String out = F.resolve("tables/mtbench").toString();
    assertEquals(2, TestSpark.get().read().format("delta").load(out).count());
    Cli r = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/mtbench.yaml").toString(),
        "--set", "input.path=" + F.resolve("in/questions.jsonl"), "--set", "output.path=" + out, "--set", "run.id=legacy-mt",
        "--set", "generation.max_new_tokens=8");
    assertEquals(0, r.code(), r.err());
    Dataset<Row> after = TestSpark.get().read().format("delta").load(out);
    assertEquals(4, after.count(), "two new questions, nothing duplicated");
    assertEquals(4, after.select("row_key", "choice_index").distinct().count());
    assertEquals(2, after.where("attempt = 1").count(), "the earlier rows stay");
    assertEquals(2, after.where("attempt = 2 and status = 'ok'").count());
    assertTrue(txnIds(out).containsAll(Set.of(TableKind.MTBENCH.chunkIdPrefix("legacy-mt", 1) + 0)), txnIds(out).toString());
  }

  private static Set<String> txnIds(String table) {
    var snapshot = org.apache.spark.sql.delta.DeltaLog.forTable(TestSpark.get(), table)
        .update(false, scala.Option.empty(), scala.Option.empty());
    return CollectionConverters.asJava(snapshot.setTransactions()).stream().map(t -> t.appId()).collect(Collectors.toSet());
  }

  private static void deleteTree(Path p) throws IOException {
    if (Files.exists(p)) {
      try (var walk = Files.walk(p)) {
        for (Path x : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(x);
        }
      }
    }
  }
}
