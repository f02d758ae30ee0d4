package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import dev.jgen.testing.djl.FakeDjlServing;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Launch mode: the executor starts one (fake) DJL Serving process per GPU group. Local mode schedules no GPU tasks, so
 * the executor's two fake GPUs come from jgen.djl.gpu_addresses; the servers are real processes running the stand-in.
 */
class DjlLaunchModeTest {
  @TempDir Path dir;

  static Path tinyModel() throws IOException {
    return TinyModelWriter.ensure(dev.jgen.testing.djl.DjlServingStandIn.cacheDir(), TinyModelSpec.tiny());
  }

  /** A base port with the next one free too. */
  static int freePortPair() throws IOException {
    for (int i = 0; i < 50; i++) {
      int p;
      try (ServerSocket s = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
        p = s.getLocalPort();
      }
      if (p < 65000) {
        try (ServerSocket s = new ServerSocket(p + 1, 0, InetAddress.getLoopbackAddress())) {
          return p;
        } catch (IOException taken) {
          // try another
        }
      }
    }
    throw new IOException("no free port pair");
  }

  @Test
  void twoServersStartedOncePinnedToTheirGpusReusedAcrossPartitionsAndStopped() throws Exception {
    Path records = dir.resolve("records");
    Path script = FakeDjlServing.write(dir.resolve("bin"), records, tinyModel(), null);
    int base = freePortPair();
    AtomicInteger tasks = new AtomicInteger();
    SparkListener counter = new SparkListener() {
      @Override
      public void onTaskEnd(SparkListenerTaskEnd e) {
        tasks.incrementAndGet();
      }
    };
    TestSpark.get().sparkContext().addSparkListener(counter);
    int loadsBefore = EngineRegistry.loads();
    System.setProperty(GpuGroups.ADDRESSES_PROPERTY, "1,0");
    Cli r;
    try {
      r = DjlServingJobTest.generate("input.path=" + DjlServingJobTest.prompts(dir, 24), "output.path=" + dir.resolve("gen"),
          "engine.djl.mode=launch", "engine.djl.command=" + script, "engine.djl.base_port=" + base,
          "engine.djl.max_rolling_batch_size=4", "engine.djl.job_queue_size=16", "engine.djl.ready_timeout_s=120",
          "engine.djl.max_num_tokens=2048", "generation.max_new_tokens=8", "job.partitions=4", "job.chunk_rows=12");
    } finally {
      System.clearProperty(GpuGroups.ADDRESSES_PROPERTY);
      TestSpark.get().sparkContext().removeSparkListener(counter);
    }
    JsonNode sum = r.summary();
    assertEquals(24, sum.get("ok").asLong(), r.out());
    assertTrue(EngineRegistry.loads() - loadsBefore <= 1, "one engine load for the executor");
    assertTrue(tasks.get() >= 8, "2 chunks x 4 partitions ran (saw " + tasks.get() + " tasks)");
    var rows = DjlServingJobTest.table(dir.resolve("gen").toString(), sum.get("run_id").asText());
    assertEquals(1, rows.select("engine_instance").distinct().count(), "one engine served every partition");

    List<FakeDjlServing.Launch> launches = FakeDjlServing.launches(records);
    assertEquals(2, launches.size(), "one server per GPU, started once: " + launches);
    Map<String, FakeDjlServing.Launch> byGpu = launches.stream()
        .collect(Collectors.toMap(l -> l.env().get("CUDA_VISIBLE_DEVICES"), l -> l));
    assertEquals(Set.of("0", "1"), byGpu.keySet());
    // base_port + the GPU address is preferred; on a loaded machine another process may take a port between our check
    // and the server's bind, and the launcher then moves to another port: assert what always holds.
    String a0 = byGpu.get("0").env().get("SERVING_INFERENCE_ADDRESS");
    String a1 = byGpu.get("1").env().get("SERVING_INFERENCE_ADDRESS");
    assertTrue(a0.startsWith("http://127.0.0.1:") && a1.startsWith("http://127.0.0.1:") && !a0.equals(a1), a0 + " " + a1);
    assertEquals(byGpu.get("0").env().get("SERVING_MANAGEMENT_ADDRESS"), a0, "management on the server's own port");
    for (FakeDjlServing.Launch l : launches) {
      var p = l.servingProperties();
      assertEquals("Python", p.getProperty("engine"));
      assertEquals("tiny-llama-ja", p.getProperty("option.model_id"));
      assertEquals("1", p.getProperty("option.tensor_parallel_degree"));
      assertEquals("4", p.getProperty("option.max_rolling_batch_size"));
      assertEquals("2048", p.getProperty("option.max_num_tokens"));
      assertEquals("8", p.getProperty("option.max_output_len"));
      assertEquals("2040", p.getProperty("option.max_input_len"));
      assertEquals("16", p.getProperty("job_queue_size"));
      assertEquals("4", l.env().get("OPTION_MAX_ROLLING_BATCH_SIZE"));
      assertEquals("true", p.getProperty("option.enable_prefix_caching"), "prefix caching on by default (issue 28)");
      assertEquals("true", l.env().get("OPTION_ENABLE_PREFIX_CACHING"));
      assertEquals("16", l.env().get("SERVING_JOB_QUEUE_SIZE"));
      assertTrue(l.args().startsWith("-m jgen=file:"), l.args());
      assertTrue(ProcessHandle.of(l.pid()).map(ProcessHandle::isAlive).orElse(false), "still serving until the executor exits");
    }

    EngineRegistry.closeAll(); // what the executor's shutdown hook does
    for (FakeDjlServing.Launch l : launches) {
      assertFalse(ProcessHandle.of(l.pid()).map(ProcessHandle::isAlive).orElse(false), "server " + l.pid() + " stopped");
    }
  }

  @Test
  void directEngineGroupsGpusByTensorParallelDegree() throws Exception {
    Path records = dir.resolve("records");
    Path script = FakeDjlServing.write(dir.resolve("bin"), records, tinyModel(), null);
    EngineSpec spec = new EngineSpec("djl-serving", "/models/karakuri-70b", Map.of("mode", "launch", "command", script.toString(),
        "tensor_parallel_degree", "2", "max_rolling_batch_size", "2", "base_port", String.valueOf(freePortPair()),
        "quantize", "fp8", "dtype", "fp16", "ready_timeout_s", "120", "enable_prefix_caching", "false"));
    ServingEngine e = new ServingEngine(spec, ServerKind.DJL, List.of("3", "2"));
    try {
      assertEquals(1, e.servers().size());
      assertEquals(List.of("2", "3"), e.servers().get(0).gpus);
      assertEquals(e.servers().get(0), e.route(new String[] {"3"}));
      assertTrue(e.info().loadMillis() > 0);
    } finally {
      e.close();
    }
    FakeDjlServing.Launch l = FakeDjlServing.launches(records).get(0);
    assertEquals("2,3", l.env().get("CUDA_VISIBLE_DEVICES"));
    assertEquals("2", l.servingProperties().getProperty("option.tensor_parallel_degree"));
    assertEquals("fp8", l.servingProperties().getProperty("option.quantize"));
    assertEquals("fp16", l.servingProperties().getProperty("option.dtype"));
    assertEquals("false", l.servingProperties().getProperty("option.enable_prefix_caching"), "engine.djl.enable_prefix_caching=false");
    assertEquals(new TreeSet<>(Set.of()), new TreeSet<>(e.launcher().servers().stream()
        .filter(s -> s.process.isAlive()).map(s -> s.pid()).toList()));
  }

  /** A taken preferred port: the launcher takes a free one instead (the socket is held, so no race decides it). */
  @Test
  void aTakenPreferredPortFallsBackToAFreeOne() throws Exception {
    Path records = dir.resolve("records");
    Path script = FakeDjlServing.write(dir.resolve("bin"), records, tinyModel(), null);
    try (ServerSocket taken = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
      EngineSpec spec = new EngineSpec("djl-serving", "m", Map.of("mode", "launch", "command", script.toString(),
          "base_port", String.valueOf(taken.getLocalPort()), "ready_timeout_s", "120", "state_dir", dir.resolve("state").toString()));
      ServingEngine e = new ServingEngine(spec, ServerKind.DJL, List.of("0"));
      try {
        int port = e.launcher().servers().get(0).port;
        assertTrue(port != taken.getLocalPort(), "moved off the taken port " + port);
        assertEquals("http://127.0.0.1:" + port, FakeDjlServing.launches(records).get(0).env().get("SERVING_INFERENCE_ADDRESS"));
      } finally {
        e.close();
      }
    }
  }

  @Test
  void launchFailureCarriesTheServersLogTail() throws Exception {
    Path script = FakeDjlServing.write(dir.resolve("bin"), dir.resolve("records"), tinyModel(),
        "RuntimeError: CUDA error: out of memory (fake)");
    EngineSpec spec = new EngineSpec("djl-serving", "m", Map.of("mode", "launch", "command", script.toString(),
        "ready_timeout_s", "30"));
    EngineException x = assertThrows(EngineException.class, () -> new ServingEngine(spec, ServerKind.DJL, List.of("0")));
    assertTrue(x.getMessage().contains("exited with code 3") && x.getMessage().contains("CUDA error: out of memory (fake)")
        && x.getMessage().contains("Loading model jgen"), x.getMessage());
  }

  @Test
  void aFailedLaunchFailsTheLoadOnceAndLaterTasksAreNotHeldByIt() throws Exception {
    // Through the registry, as every task loads: the first load fails with the server's log tail; the next (another
    // task, a Spark retry) fails at once with the same cause instead of launching and waiting again.
    Path records = dir.resolve("records-once");
    Path script = FakeDjlServing.write(dir.resolve("bin-once"), records, tinyModel(), "RuntimeError: CUDA error: out of memory (fake)");
    EngineSpec spec = new EngineSpec("djl-serving", "m-once", Map.of("mode", "launch", "command", script.toString(),
        "ready_timeout_s", "30"));
    dev.jgen.engine.EngineRegistry.forgetFailedLoads();
    try {
      long t0 = System.nanoTime();
      EngineException first = assertThrows(EngineException.class, () -> dev.jgen.engine.EngineRegistry.shared(spec));
      long firstMs = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(first.getMessage().contains("exited with code 3") && first.getMessage().contains("CUDA error: out of memory (fake)"),
          first.getMessage());
      long t1 = System.nanoTime();
      EngineException again = assertThrows(EngineException.class, () -> dev.jgen.engine.EngineRegistry.shared(spec));
      long againMs = (System.nanoTime() - t1) / 1_000_000;
      assertTrue(again.getMessage().contains("failed to load earlier") && again.getMessage().contains("CUDA error: out of memory (fake)"),
          again.getMessage());
      assertEquals(1, FakeDjlServing.launches(records).size(), "launched once");
      System.out.println("failed launch: the load failed after " + firstMs + " ms with the log tail; the next load " + againMs
          + " ms, without a launch");
    } finally {
      dev.jgen.engine.EngineRegistry.forgetFailedLoads();
    }
  }
}
