package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.testing.TestSpark;
import dev.jgen.testing.djl.FakeTrtllmServe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Launch mode with {@code engine.kind=trtllm-serve}: each executor starts one (fake) trtllm-serve per GPU group. The fake
 * command checks its flags as trtllm-serve's click definitions would and serves the stand-in on the OpenAI wire.
 */
class TrtllmLaunchModeTest {
  @TempDir Path dir;

  static EngineSpec spec(Path script, Path state, String... kv) {
    Map<String, String> o = new HashMap<>(Map.of("mode", "launch", "command", script.toString(), "ready_timeout_s", "180",
        "state_dir", state.toString(), "app_id", "trtllm-test", "bos_text", "<s>"));
    for (int i = 0; i < kv.length; i += 2) {
      o.put(kv[i], kv[i + 1]);
    }
    return new EngineSpec("trtllm-serve", "/models/llm-jp-3-13b-instruct", o);
  }

  @Test
  void oneServerPerGpuGroupWithFlagsAndOptionsFileReusedAcrossPartitionsAndStoppedAtExit() throws Exception {
    Path records = dir.resolve("records");
    Path script = FakeTrtllmServe.write(dir.resolve("bin"), records, DjlLaunchModeTest.tinyModel(), null);
    Path userYaml = dir.resolve("user.yaml");
    Files.writeString(userYaml, "kv_cache_config:\n  tokens_per_block: 64\nprint_iter_log: true\n", StandardCharsets.UTF_8);
    EngineSpec spec = spec(script, dir.resolve("state"), "gpu_addresses", "3,2,1,0", "tp_size", "2", "max_batch_size", "4",
        "max_num_tokens", "2048", "max_seq_len", "1024", "kv_cache_free_gpu_memory_fraction", "0.85", "enable_block_reuse", "false",
        "kv_cache_dtype", "fp8", "extra_llm_api_options", userYaml.toString(), "base_port", "0");
    int loadsBefore = EngineRegistry.loads();
    // Four partitions on the local executor: every task gets the same engine and the same two servers.
    List<String> perRow = new JavaSparkContext(TestSpark.get().sparkContext())
        .parallelize(IntStream.range(0, 8).boxed().toList(), 4)
        .mapPartitions(it -> {
          Engine e = EngineRegistry.shared(spec);
          List<java.util.concurrent.CompletableFuture<Completion>> fs = new ArrayList<>();
          List<String> out = new ArrayList<>();
          while (it.hasNext()) {
            int i = it.next();
            fs.add(e.submit(new CompletionRequest("r" + i, "<s>日本について" + i, new int[] {1, 2, 3},
                new SamplingParams(6, 0.0, 1.0, 0, 1.0, i, List.of()))));
          }
          for (var f : fs) {
            Completion c = f.get();
            out.add(e.info().instanceId() + "|" + c.completionTokens() + "|" + c.finishReason());
          }
          return out.iterator();
        })
        .collect();
    assertEquals(8, perRow.size());
    assertEquals(1, perRow.stream().map(s -> s.split("\\|")[0]).distinct().count(), "one engine served every partition: " + perRow);
    for (String r : perRow) {
      String[] f = r.split("\\|");
      assertTrue(Integer.parseInt(f[1]) > 0 && Integer.parseInt(f[1]) <= 6, r);
      assertTrue(Set.of("stop", "length").contains(f[2]), r);
    }
    assertTrue(EngineRegistry.loads() - loadsBefore <= 1, "one engine load");

    List<FakeTrtllmServe.Launch> launches = FakeTrtllmServe.launches(records);
    assertEquals(2, launches.size(), "one server per GPU group of tp_size 2, started once: " + launches);
    Map<String, FakeTrtllmServe.Launch> byGpus = launches.stream()
        .collect(Collectors.toMap(l -> l.env().get("CUDA_VISIBLE_DEVICES"), l -> l));
    assertEquals(Set.of("0,1", "2,3"), byGpus.keySet());
    assertFalse(byGpus.get("0,1").flags().get("--port").equals(byGpus.get("2,3").flags().get("--port")), "a port each");
    for (FakeTrtllmServe.Launch l : launches) {
      assertEquals("/models/llm-jp-3-13b-instruct", l.model());
      assertEquals("127.0.0.1", l.flags().get("--host"));
      assertEquals("pytorch", l.flags().get("--backend"));
      assertEquals("2", l.flags().get("--tp_size"));
      assertEquals("4", l.flags().get("--max_batch_size"));
      assertEquals("2048", l.flags().get("--max_num_tokens"));
      assertEquals("1024", l.flags().get("--max_seq_len"));
      assertEquals("0.85", l.flags().get("--kv_cache_free_gpu_memory_fraction"));
      assertNotNull(l.options(), "the options file was there when the server started");
      Map<String, Object> y = new Yaml(new SafeConstructor(new LoaderOptions())).load(l.options());
      @SuppressWarnings("unchecked")
      Map<String, Object> kv = (Map<String, Object>) y.get("kv_cache_config");
      assertEquals(0.85, ((Number) kv.get("free_gpu_memory_fraction")).doubleValue(), 1e-9, l.options());
      assertEquals(false, kv.get("enable_block_reuse"), l.options());
      assertEquals("fp8", kv.get("dtype"), l.options());
      assertEquals(64, kv.get("tokens_per_block"), "the user's YAML merged in: " + l.options());
      assertEquals(true, y.get("print_iter_log"), l.options());
      assertEquals(true, y.get("enable_iter_perf_stats"), "so that /metrics has iteration stats: " + l.options());
      assertTrue(ProcessHandle.of(l.pid()).map(ProcessHandle::isAlive).orElse(false), "serving until the executor exits");
    }

    // The servers' /metrics (trtllm-serve's JSON iteration stats) fold into figures; every row was one request.
    ServingEngine engine = (ServingEngine) EngineRegistry.shared(spec);
    Map<String, Double> m = engine.serverMetrics();
    assertEquals(8.0, m.get("client.requests_sent"), m.toString());
    assertEquals(2.0, m.get("client.servers"), m.toString());
    assertTrue(m.getOrDefault("trtllm.iterations", 0.0) > 0, m.toString());
    assertTrue(m.get("trtllm.batch_occupancy") > 0 && m.get("trtllm.batch_occupancy") <= 1, m.toString());
    assertTrue(m.get("trtllm.gen_tokens_per_s") > 0, m.toString());

    EngineRegistry.closeAll(); // what the executor's shutdown hook does
    for (FakeTrtllmServe.Launch l : launches) {
      assertFalse(ProcessHandle.of(l.pid()).map(ProcessHandle::isAlive).orElse(false), "server " + l.pid() + " stopped");
    }
    try (var left = Files.list(dir.resolve("state"))) {
      assertEquals(0, left.filter(p -> p.toString().endsWith(".json")).count(), "the records of stopped servers are gone");
    }
  }

  @Test
  void aServerThatDiesWhileLoadingFailsTheLoadWithItsLogTail() throws Exception {
    Path script = FakeTrtllmServe.write(dir.resolve("bin"), dir.resolve("records"), DjlLaunchModeTest.tinyModel(),
        "torch.OutOfMemoryError: CUDA out of memory (fake)");
    EngineSpec spec = spec(script, dir.resolve("state"), "ready_timeout_s", "60");
    EngineException x = assertThrows(EngineException.class, () -> new ServingEngine(spec, ServerKind.TRTLLM, List.of("0")));
    String m = x.getMessage();
    assertTrue(m.contains("trtllm-serve") && m.contains("exited with code 3") && m.contains("CUDA out of memory (fake)")
        && m.contains("Loading model weights"), m);
  }

  @Test
  void flagsTheServerWouldRejectFailTheLoadWithClicksMessage() throws Exception {
    // The fake rejects unknown flags as click does: a launcher passing a wrong flag name would fail here.
    Path script = FakeTrtllmServe.write(dir.resolve("bin"), dir.resolve("records"), DjlLaunchModeTest.tinyModel(), null);
    EngineSpec spec = spec(script, dir.resolve("state"), "command", script + " --no_such_flag", "ready_timeout_s", "60");
    EngineException x = assertThrows(EngineException.class, () -> new ServingEngine(spec, ServerKind.TRTLLM, List.of("0")));
    assertTrue(x.getMessage().contains("exited with code 2") && x.getMessage().contains("No such option"), x.getMessage());
  }
}
