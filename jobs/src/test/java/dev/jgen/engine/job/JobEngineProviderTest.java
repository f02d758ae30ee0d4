package dev.jgen.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.config.ConfigKeys;
import dev.jgen.engine.EngineSpec;
import dev.jgen.structured.OutputConstraint;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the job code asks of each engine kind, answered by the kinds' providers (no job code names a kind). */
class JobEngineProviderTest {
  private static JobEngineProvider kind(String kind) {
    return JobEngineProvider.find(kind).orElseThrow();
  }

  @Test
  void everyConfigurableKindHasAJobProvider() {
    for (String kind : ConfigKeys.ENGINE_KINDS) {
      assertEquals(!kind.equals("none"), JobEngineProvider.find(kind).isPresent(), kind);
    }
    // the native engine alone is reached through llamacpp, never named by engine.kind
    assertTrue(JobEngineProvider.find("llamacpp-native").isEmpty());
  }

  @Test
  void onlyLlamaCppCarriesGrammars() {
    assertEquals(List.of("llamacpp"), JobEngineProvider.kindsCarrying(OutputConstraint.Kind.GRAMMAR));
    for (String kind : List.of("llamacpp", "djl-serving", "trtllm-serve", "echo")) {
      assertTrue(kind(kind).carries(OutputConstraint.Kind.JSON_SCHEMA), kind);
      assertTrue(kind(kind).carries(OutputConstraint.Kind.CHOICE), kind);
    }
    assertTrue(kind("llamacpp").needsGguf());
    assertFalse(kind("djl-serving").needsGguf());
  }

  @Test
  void capacityAsTheDriverEstimatesIt() {
    assertEquals(8192, kind("echo").capacity(new EngineSpec("echo", "m", Map.of())));
    assertEquals(4, kind("llamacpp").capacity(new EngineSpec("llamacpp", "m.gguf", Map.of("parallel", "4"))));
    assertEquals(1, kind("llamacpp").capacity(new EngineSpec("llamacpp", "m.gguf", Map.of("parallel", "0"))));
    assertEquals(8, kind("llamacpp").capacity(new EngineSpec("llamacpp", "m.gguf", Map.of())));
    assertEquals(2 * 128, kind("djl-serving").capacity(new EngineSpec("djl-serving", "m",
        Map.of("max_rolling_batch_size", "128", "endpoints", "http://a:8080, http://b:8080"))));
    assertEquals(32, kind("djl-serving").capacity(new EngineSpec("djl-serving", "m",
        Map.of("window", "32", "max_rolling_batch_size", "128"))));
    assertEquals(64, kind("trtllm-serve").capacity(new EngineSpec("trtllm-serve", "m", Map.of("max_batch_size", "64"))));
  }

  @Test
  void onlyServersAskForGpus() {
    assertEquals(0, kind("llamacpp").gpusPerServer(new EngineSpec("llamacpp", "m.gguf", Map.of())));
    assertEquals(0, kind("echo").gpusPerServer(new EngineSpec("echo", "m", Map.of())));
    assertEquals(2, kind("djl-serving").gpusPerServer(new EngineSpec("djl-serving", "m", Map.of("tensor_parallel_degree", "2"))));
    assertEquals(1, kind("djl-serving").gpusPerServer(new EngineSpec("djl-serving", "m", Map.of())));
    assertEquals(4, kind("trtllm-serve").gpusPerServer(new EngineSpec("trtllm-serve", "m", Map.of("gpus_per_server", "4"))));
  }
}
