package dev.jgen.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestModels;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job on a real Spark standalone cluster: a master and two 1-core workers, each its own JVM on this machine; the
 * driver is a child JVM (bin/jgen's way, with {@code spark.master=spark://...}), the executors are the workers' children.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.Tag("slow") // bin/test --fast leaves it out (a child JVM, a race, or a long run)
class ClusterTest {
  private static StandaloneCluster cluster;

  @TempDir Path dir;
  private Process driver;

  @BeforeAll
  static void startCluster() {
    TestModels.tinyDir(); // written once into the test cache here, not by the drivers
    cluster = StandaloneCluster.start(Path.of("target", "spark-cluster"), 2);
  }

  @AfterAll
  static void stopCluster() {
    if (cluster == null) {
      return;
    }
    String path = cluster.dir().toString();
    cluster.close();
    List<String> left = ProcessHandle.allProcesses().filter(ProcessHandle::isAlive)
        .filter(p -> p.info().commandLine().map(c -> c.contains(path)).orElse(false))
        .map(p -> p.pid() + " " + p.info().commandLine().orElse("")).toList();
    assertEquals(List.of(), left, "no JVM of the cluster outlives it");
  }

  @BeforeEach
  void previousApplicationsExecutorsAreGone() throws InterruptedException {
    long deadline = System.currentTimeMillis() + 30_000;
    while (!cluster.executors().isEmpty() && System.currentTimeMillis() < deadline) {
      Thread.sleep(100);
    }
    assertEquals(List.of(), cluster.executors(), "executors of an earlier application still running");
  }

  @AfterEach
  void stopDriver() throws InterruptedException {
    if (driver != null && driver.isAlive()) {
      driver.destroyForcibly();
      driver.waitFor(30, TimeUnit.SECONDS);
    }
  }

  private Path input(int rows) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      lines.add("{\"id\": \"c" + i + "\", \"prompt\": \"クラスタの質問 " + i + " に答えてください。\"}");
    }
    return TestFiles.jsonl(dir, "in.jsonl", lines);
  }

  private Process startJob(Path in, String out, Path log, String... extra) {
    List<String> a = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "spark.master=" + cluster.masterUrl(),
        "--set", "engine.threads=1", "--set", "generation.max_new_tokens=12"));
    for (Map.Entry<String, String> e : cluster.appConf().entrySet()) {
      a.add("--set");
      a.add("spark.conf." + e.getKey() + "=" + e.getValue());
    }
    for (String e : extra) {
      a.add("--set");
      a.add(e);
    }
    driver = cluster.startDriver(log, a);
    return driver;
  }

  private JsonNode finish(Process p, Path log, long seconds) throws Exception {
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      fail("the job did not finish in " + seconds + " s\n" + StandaloneCluster.tail(log, 60) + "\n" + cluster.logs(30));
    }
    assertEquals(0, p.exitValue(), "exit code\n" + StandaloneCluster.tail(log, 80) + "\n" + cluster.logs(30));
    List<String> lines = Files.readAllLines(log);
    for (int i = lines.size() - 1; i >= 0; i--) {
      if (lines.get(i).startsWith("{\"run_id\"")) {
        return new ObjectMapper().readTree(lines.get(i));
      }
    }
    throw new AssertionError("no JSON summary in the driver's output\n" + StandaloneCluster.tail(log, 80));
  }

  @Test
  @Order(1)
  void jobRunsAcrossBothExecutorsWithOneModelPerExecutor() throws Exception {
    Path in = input(40);
    String out = dir.resolve("gen").toString();
    Path log = dir.resolve("driver.log");
    JsonNode s = finish(startJob(in, out, log, "job.partitions=8", "job.chunk_rows=40"), log, 240);
    Dataset<Row> rows = TestSpark.get().read().format("delta").load(out).where("run_id = '" + s.get("run_id").asText() + "'");
    assertEquals(40, s.get("rows_in").asLong(), s.toString());
    assertEquals(40, s.get("ok").asLong(), s + "\n" + errors(rows));
    assertEquals(0, s.get("error").asLong(), s.toString());
    assertEquals(40, rows.where("status = 'ok'").count());
    List<Row> perExecutor = rows.groupBy("executor_id")
        .agg(org.apache.spark.sql.functions.countDistinct("engine_instance").as("engines"),
            org.apache.spark.sql.functions.count("*").as("rows"))
        .orderBy("executor_id").collectAsList();
    assertEquals(2, perExecutor.size(), "rows from two executors: " + perExecutor);
    for (Row r : perExecutor) {
      assertFalse("driver".equals(r.getString(0)), "no row generated on the driver: " + perExecutor);
      assertEquals(1L, r.getLong(1), "the model is loaded once per executor, not per task: " + perExecutor);
    }
    assertEquals(2, rows.select("engine_instance").distinct().count(), "one engine instance per executor");
  }

  @Test
  @Order(2)
  void jobSurvivesSigkillOfAnExecutor() throws Exception {
    Path in = input(40);
    String out = dir.resolve("gen").toString();
    Path log = dir.resolve("driver.log");
    Process job = startJob(in, out, log, "job.partitions=4", "job.chunk_rows=10", "generation.n=1");
    // Once the first chunk is committed (version 0 creates the table), the executors are loaded and generating.
    Path firstChunk = Path.of(out, "_delta_log", "00000000000000000001.json");
    long deadline = System.currentTimeMillis() + 180_000;
    while (!Files.exists(firstChunk) && job.isAlive() && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    assertTrue(Files.exists(firstChunk), "the job committed a chunk\n" + StandaloneCluster.tail(log, 60) + "\n" + cluster.logs(30));
    List<ProcessHandle> executors = cluster.executors();
    assertEquals(2, executors.size(), "two executors running: " + executors);
    // SIGKILL an executor in the middle of a generation task: its last Spark task started, did not finish, and llama.cpp
    // has taken a request for it since.
    ProcessHandle victim = null;
    List<TaskWatch> watches = executors.stream().map(e -> new TaskWatch(e, cluster.executorLog(e))).toList();
    deadline = System.currentTimeMillis() + 120_000;
    while (victim == null && job.isAlive() && System.currentTimeMillis() < deadline) {
      for (TaskWatch w : watches) {
        if (w.generating() && w.stillInTaskWhenPaused()) {
          victim = w.executor;
          victim.destroyForcibly(); // SIGKILL, the executor frozen with a task running
          break;
        }
      }
      Thread.sleep(20);
    }
    assertTrue(victim != null, "an executor was caught generating while the job ran\n" + StandaloneCluster.tail(log, 60));
    assertTrue(victim.onExit().get(30, TimeUnit.SECONDS) != null && !victim.isAlive());
    long lastVersionAtKill = lastVersion(out);

    JsonNode s = finish(job, log, 300);
    assertTrue(lastVersion(out) > lastVersionAtKill, "chunks were committed after the kill");
    Dataset<Row> rows = TestSpark.get().read().format("delta").load(out).where("run_id = '" + s.get("run_id").asText() + "'");
    assertEquals(40, s.get("rows_in").asLong(), s.toString());
    assertEquals(40, s.get("ok").asLong(), s + "\n" + errors(rows));
    assertEquals(0, s.get("error").asLong(), s.toString());
    assertEquals(s.get("rows_in").asLong(), s.get("ok").asLong() + s.get("error").asLong());
    assertEquals(40, rows.count(), "no duplicates");
    assertEquals(40, rows.select("id", "sample_index").distinct().count(), "exactly one row per (id, sample_index)");
    assertEquals(40, rows.where("status = 'ok'").count());
    assertEquals(40, rows.where("status = 'ok'").select("id", "sample_index").distinct().count());
    assertTrue(Files.readString(log).contains("ExecutorLostFailure"), "the driver lost the running task with the executor\n"
        + StandaloneCluster.tail(log, 60));
  }

  @Test
  @Order(3)
  void multiTurnJobSurvivesSigkillOfAnExecutor() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      lines.add("{\"question_id\": " + (200 + i) + ", \"category\": \"writing\", \"turns\": [\"クラスタの質問 " + i
          + " です。\", \"続けて " + i + " について。\"]}");
    }
    Path in = TestFiles.jsonl(dir, "questions.jsonl", lines);
    String out = dir.resolve("answers").toString();
    Path log = dir.resolve("driver-mtbench.log");
    List<String> a = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/mtbench.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "spark.master=" + cluster.masterUrl(),
        "--set", "engine.threads=1", "--set", "generation.max_new_tokens=12", "--set", "job.partitions=4",
        "--set", "job.chunk_rows=4"));
    for (Map.Entry<String, String> e : cluster.appConf().entrySet()) {
      a.add("--set");
      a.add("spark.conf." + e.getKey() + "=" + e.getValue());
    }
    driver = cluster.startDriver(log, a);
    Path firstChunk = Path.of(out, "_delta_log", "00000000000000000001.json");
    long deadline = System.currentTimeMillis() + 180_000;
    while (!Files.exists(firstChunk) && driver.isAlive() && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    assertTrue(Files.exists(firstChunk), "the job committed a chunk\n" + StandaloneCluster.tail(log, 60) + "\n" + cluster.logs(30));
    List<ProcessHandle> executors = cluster.executors();
    ProcessHandle victim = null;
    List<TaskWatch> watches = executors.stream().map(e -> new TaskWatch(e, cluster.executorLog(e))).toList();
    deadline = System.currentTimeMillis() + 120_000;
    while (victim == null && driver.isAlive() && System.currentTimeMillis() < deadline) {
      for (TaskWatch w : watches) {
        if (w.inTask() && w.stillInTaskWhenPaused()) {
          victim = w.executor;
          victim.destroyForcibly(); // SIGKILL, in the middle of a task's conversations
          break;
        }
      }
      Thread.sleep(20);
    }
    assertTrue(victim != null, "an executor was caught running a task\n" + StandaloneCluster.tail(log, 60));
    if (!driver.waitFor(300, TimeUnit.SECONDS)) {
      fail("the job did not finish\n" + StandaloneCluster.tail(log, 60) + "\n" + cluster.logs(30));
    }
    assertEquals(0, driver.exitValue(), StandaloneCluster.tail(log, 80) + "\n" + cluster.logs(30));
    Dataset<Row> rows = TestSpark.get().read().format("delta").load(out);
    assertEquals(16, rows.count(), "no duplicates");
    assertEquals(16, rows.select("question_id", "choice_index").distinct().count(), "each conversation exactly once");
    assertEquals(16, rows.where("status = 'ok' AND size(turns) = 2").count(), "both turns of every question");
  }

  /** Follows an executor's stderr: is a Spark task running there now? */
  private static final class TaskWatch {
    private static final java.util.regex.Pattern TID = java.util.regex.Pattern.compile("\\(TID (\\d+)\\)");
    final ProcessHandle executor;
    private final Path log;
    private long offset;
    /** The tasks started and not yet ended there (an executor may run several at once). */
    private final java.util.Set<String> running = new java.util.HashSet<>();
    private final StringBuilder partial = new StringBuilder();

    TaskWatch(ProcessHandle executor, Path log) {
      this.executor = executor;
      this.log = log;
    }

    boolean generating() throws java.io.IOException {
      try (var f = new java.io.RandomAccessFile(log.toFile(), "r")) {
        if (f.length() > offset) {
          f.seek(offset);
          byte[] b = new byte[(int) (f.length() - offset)];
          f.readFully(b);
          offset += b.length;
          partial.append(new String(b, java.nio.charset.StandardCharsets.ISO_8859_1));
        }
      }
      int nl;
      while ((nl = partial.indexOf("\n")) >= 0) {
        String line = partial.substring(0, nl);
        partial.delete(0, nl + 1);
        var tid = TID.matcher(line);
        if (!tid.find()) {
          continue;
        }
        if (line.contains("Executor: Running task")) {
          running.add(tid.group(1));
        } else if (line.contains("Executor: Finished task") || line.contains("Executor: Exception in task")
            || line.contains("killed task")) {
          running.remove(tid.group(1));
        }
      }
      // llama.cpp's own log is at DEBUG (quiet by default), so the executor's task lines are what tells a task is
      // running: killed then, the executor takes a task of the run with it, which is what the test is about.
      return !running.isEmpty();
    }

    /** Whether a Spark task is running there now. */
    boolean inTask() throws java.io.IOException {
      return generating();
    }

    /**
     * Freezes the executor (SIGSTOP) and reads its log again: true, with the executor left frozen for the kill, when a
     * task is still running; else it runs on. Checked while frozen, the task cannot end between the check and the
     * kill, which the log read of a running executor could not promise on a loaded machine.
     */
    boolean stillInTaskWhenPaused() throws java.io.IOException {
      dev.jgen.testing.Signals.pause(executor);
      if (generating()) {
        return true;
      }
      dev.jgen.testing.Signals.resume(executor);
      return false;
    }
  }

  private static String errors(Dataset<Row> rows) {
    return "errors: " + rows.where("status = 'error'").groupBy("executor_id", "error").count().collectAsList() + "\n" + cluster.logs(30);
  }

  private static long lastVersion(String table) throws Exception {
    try (var files = Files.list(Path.of(table, "_delta_log"))) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.matches("\\d{20}\\.json"))
          .mapToLong(n -> Long.parseLong(n.substring(0, 20))).max().orElse(-1);
    }
  }
}
