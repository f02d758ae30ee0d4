package dev.jgen.engine.llamanative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.catalog.ModelResolver;
import dev.jgen.cli.Main;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestModels;
import dev.jgen.testing.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine boundary in a real generate job (in-process Spark, the real jgen-llama-server on the tiny model): bad rows
 * stay their own error rows and the server lives on; a server killed mid-run stops the run as a run error at once,
 * and the same command then finishes it.
 */
class EngineBoundaryJobTest {
  @TempDir Path dir;

  @BeforeEach
  void needsTheNativeBuild() {
    Assumptions.assumeTrue(NativeBuild.server().isPresent(), "no native llama.cpp build (bin/build-native)");
  }

  /**
   * The tiny model with a tokenizer.json that knows one token the GGUF lacks, {@code <oov>} (the tokenizer gives it
   * the first id past the GGUF's vocabulary): a tokenizer that does not belong to the weights.
   */
  private Path mismatchedModel() throws Exception {
    Path tiny = TestModels.tinyDir();
    Path m = dir.resolve("mismatched");
    Files.createDirectories(m);
    try (Stream<Path> files = Files.list(tiny)) {
      for (Path f : files.toList()) {
        Files.copy(f, m.resolve(f.getFileName().toString()));
      }
    }
    ObjectMapper json = new ObjectMapper();
    ObjectNode tj = (ObjectNode) json.readTree(m.resolve("tokenizer.json").toFile());
    ArrayNode added = tj.has("added_tokens") ? (ArrayNode) tj.get("added_tokens") : tj.putArray("added_tokens");
    ObjectNode t = added.addObject();
    t.put("id", 70000).put("content", "<oov>").put("single_word", false).put("lstrip", false).put("rstrip", false)
        .put("normalized", false).put("special", false);
    json.writeValue(m.resolve("tokenizer.json").toFile(), tj);
    return m;
  }

  private static String line(String id, String prompt, String extra) {
    return "{\"id\": \"" + id + "\", \"prompt\": \"" + prompt + "\"" + extra + "}";
  }

  @Test
  void badRowsAreTheirOwnErrorRowsAndTheServerLivesOn() throws Exception {
    Path model = mismatchedModel();
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      lines.add(line("good" + i, "良い質問 " + i + " です。", i % 2 == 0 ? ", \"stop\": [\"\\n\\n\", \"ab cd\"]" : ""));
    }
    // A schema the JVM's metaschema check accepts and llama.cpp's converter refuses (a quantifier with nothing to repeat, which Java reads as repeating the anchor).
    lines.add(2, line("schema", "形式を守って", ", \"json_schema\": \"{\\\"type\\\": \\\"string\\\", \\\"pattern\\\": \\\"^*a$\\\"}\""));
    lines.add(5, line("oov", "この <oov> は語彙の外", ""));
    lines.add(7, line("long", "長い".repeat(400), ""));
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    // The job's engine, opened first so the test holds it (the job's tasks get the same instance from the registry).
    EngineSpec spec = new EngineSpec("llamacpp", model.resolve("model.gguf").toString(),
        Map.of("threads", "1", "parallel", "2", "ctx_size", "256"));
    EngineRegistry.closeAll();
    System.setProperty("jgen.llama.impl", "native");
    Engine engine;
    try {
      engine = EngineRegistry.shared(spec);
    } finally {
      System.clearProperty("jgen.llama.impl");
    }
    try {
      LlamaServerProcess server = ((NativeLlamaEngine) engine).server();
      long pid = server.pid();
      int loads = EngineRegistry.loads();
      String out = dir.resolve("gen").toString();
      Cli r = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(), "--set", "input.path=" + in,
          "--set", "output.path=" + out, "--set", "model.path=" + model, "--set", "engine.threads=1", "--set", "engine.parallel=2",
          "--set", "engine.ctx_size=256", "--set", "generation.max_new_tokens=16", "--set", "run.id=bad-rows",
          "--set", "job.max_failure_rate=0.1", "--set", "job.failure_window=4", "--set", "engine.request_timeout_s=120");
      assertEquals(0, r.code(), r.err() + r.out());
      assertEquals(8, r.summary().get("ok").asLong(), r.out());
      assertEquals(3, r.summary().get("error").asLong(), r.out());
      Dataset<Row> rows = TestSpark.get().read().format("delta").load(out).where("run_id = 'bad-rows'");
      Map<String, String> errors = new java.util.HashMap<>();
      for (Row row : rows.where("status = 'error'").select("id", "error").collectAsList()) {
        errors.put(row.getString(0), row.getString(1));
      }
      assertTrue(errors.get("schema").contains("could not convert the JSON schema"), errors.toString());
      assertTrue(errors.get("oov").contains("outside the model's vocabulary"), errors.toString());
      assertTrue(errors.get("long").contains("prompt is") && errors.get("long").contains("context of 256"), errors.toString());
      assertEquals(8, rows.where("status = 'ok' and id like 'good%'").count());
      assertTrue(server.isAlive(), "the server lives");
      assertEquals(pid, server.pid(), "never restarted");
      assertEquals(loads, EngineRegistry.loads(), "no engine loaded again");
      System.out.println("bad rows job: " + errors + "; 8 ok rows; pid " + pid + " throughout");
    } finally {
      EngineRegistry.closeAll();
    }
  }

  @Test
  void aServerKilledMidRunStopsTheRunAndTheSameCommandFinishesIt() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      lines.add(line("short" + i, "短い " + i, ", \"max_new_tokens\": 4"));
    }
    for (int i = 0; i < 4; i++) {
      lines.add(line("long" + i, "長い文章を書いてください " + i, ", \"max_new_tokens\": 1500"));
    }
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    String out = dir.resolve("gen").toString();
    String gguf = new ModelResolver(TestModels.catalog(), ModelResolver.defaultCacheDir()).resolve("tiny-llama-ja", null, true)
        .gguf().toString();
    EngineSpec spec = new EngineSpec("llamacpp", gguf, Map.of("threads", "1", "parallel", "2", "ctx_size", "4096"));
    String[] args = {"generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(), "--set", "input.path=" + in,
        "--set", "output.path=" + out, "--set", "run.id=killed-server", "--set", "engine.threads=1", "--set", "engine.parallel=2",
        "--set", "engine.ctx_size=4096", "--set", "job.chunk_rows=4", "--set", "job.chunks_in_flight=1",
        "--set", "job.longest_first=false", "--set", "engine.request_timeout_s=120"};
    EngineRegistry.closeAll();
    System.setProperty("jgen.llama.impl", "native");
    Engine engine;
    try {
      engine = EngineRegistry.shared(spec);
    } finally {
      System.clearProperty("jgen.llama.impl");
    }
    try {
      LlamaServerProcess server = ((NativeLlamaEngine) engine).server();
      AtomicReference<Cli> result = new AtomicReference<>();
      Thread job = new Thread(() -> result.set(Cli.run(args)), "killed-server-job");
      job.start();
      // The first chunk (the short rows) committed, the long rows generating: then SIGKILL.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
      while (!(committedOk(out) >= 4 && server.pending() >= 2)) {
        assertTrue(System.nanoTime() < deadline, "timed out waiting for the first chunk's commit and the long rows to run");
        assertTrue(job.isAlive(), "the job ended before the kill: " + (result.get() == null ? "" : result.get().err()));
        Thread.sleep(20);
      }
      long t0 = System.nanoTime();
      assertTrue(ProcessHandle.of(server.pid()).orElseThrow().destroyForcibly(), "SIGKILL sent");
      job.join(TimeUnit.SECONDS.toMillis(120));
      long stoppedMs = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(!job.isAlive(), "the job returned within the request timeout (120 s)");
      Cli killed = result.get();
      assertEquals(Main.EXIT_RUN_ERROR, killed.code(), killed.err() + killed.out());
      assertTrue(killed.err().contains("the engine was lost") && killed.err().contains("exited"), killed.err());
      assertEquals(4, committedOk(out), "the committed chunk stays, nothing of the killed one was committed");
      assertTrue(server.lostReason() != null && !engine.isAlive());

      // The same command: a new server is started and the run finishes, each row once.
      Cli again = Cli.run(args);
      assertEquals(0, again.code(), again.err() + again.out());
      Dataset<Row> rows = TestSpark.get().read().format("delta").load(out).where("run_id = 'killed-server'");
      assertEquals(8, rows.where("status = 'ok'").select("id").distinct().count());
      assertEquals(8, rows.where("status = 'ok'").count());
      assertNotEquals(engine, EngineRegistry.shared(spec), "a new engine replaced the lost one");
      System.out.println("killed server: the run stopped " + stoppedMs + " ms after SIGKILL (exit " + killed.code()
          + "); the same command then finished it: " + again.summary());
    } finally {
      EngineRegistry.closeAll();
    }
  }

  private static long committedOk(String out) {
    try {
      return TestSpark.get().read().format("delta").load(out).where("run_id = 'killed-server' and status = 'ok'").count();
    } catch (Exception e) {
      return 0; // no table yet
    }
  }
}
