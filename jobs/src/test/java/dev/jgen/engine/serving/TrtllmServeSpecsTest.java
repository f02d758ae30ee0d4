package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.catalog.ModelCatalog;
import dev.jgen.catalog.ModelEntry;
import dev.jgen.catalog.ResolvedModel;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigLoader;
import dev.jgen.config.JobConfig;
import dev.jgen.engine.EngineSpec;
import dev.jgen.testing.TestFiles;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** engine.trtllm.* keys and the catalog's GPU presets into the engine's options, on the driver. */
class TrtllmServeSpecsTest {
  static JobConfig config(String... kv) {
    Map<String, Object> m = new HashMap<>(Map.of("input.path", "in.jsonl", "output.path", "out",
        "engine.trtllm.mode", "launch")); // engine.kind=trtllm-serve joins the allowed kinds with GenerateJob's wiring
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return ConfigLoader.fromMap(m);
  }

  static ResolvedModel model(String id) {
    ModelEntry e = ModelCatalog.load(TestFiles.conf()).get(id);
    return new ResolvedModel(id, e, null, null, null, "catalog:test", e.contextLength(), "test");
  }

  @Test
  void thePresetFillsTpBatchAndPrecision() {
    EngineSpec s = TrtllmServeSpecs.spec(config("model.id", "karakuri-lm-70b-chat-v0.1", "engine.trtllm.gpu", "h100-80gb"),
        model("karakuri-lm-70b-chat-v0.1"), "<s>", 256, 4096);
    assertEquals("trtllm-serve", s.kind());
    assertEquals("karakuri-ai/karakuri-lm-70b-chat-v0.1", s.model());
    assertEquals("2", s.option("tp_size", null));
    assertEquals("2", s.option("gpus_per_server", null), "GPU groups follow the tensor-parallel size");
    assertEquals("fp8", s.option("precision", null));
    assertEquals("fp8", s.option("kv_cache_dtype", null));
    assertEquals("4096", s.option("max_seq_len", null));
    assertEquals("<s>", s.option("bos_text", null));
    int batch = Integer.parseInt(s.option("max_batch_size", "0"));
    assertTrue(batch >= 32 && batch <= 256, "the preset's batch: " + batch);
  }

  @Test
  void jobKeysWinAndAPresetThatCannotFitIsAConfigError() {
    EngineSpec s = TrtllmServeSpecs.spec(config("model.id", "llm-jp-3-13b-instruct", "engine.trtllm.gpu", "h100-80gb",
        "engine.trtllm.precision", "bf16", "engine.trtllm.max_batch_size", "8"), model("llm-jp-3-13b-instruct"), "<s>", 256, 4096);
    assertEquals("bf16", s.option("precision", null));
    assertEquals("1", s.option("tp_size", null), "the fewest GPUs that fit bf16");
    assertEquals("8", s.option("max_batch_size", null));
    ConfigException x = assertThrows(ConfigException.class, () -> TrtllmServeSpecs.spec(config("model.id",
        "llm-jp-3-172b-beta1-instruct", "engine.trtllm.gpu", "h100-80gb", "engine.trtllm.precision", "bf16",
        "engine.trtllm.tp_size", "4"), model("llm-jp-3-172b-beta1-instruct"), "<s>", 256, 4096));
    assertTrue(x.getMessage().contains("does not fit on h100-80gb in bf16 with tp_size 4"), x.getMessage());
    ConfigException y = assertThrows(ConfigException.class, () -> TrtllmServeSpecs.spec(config("model.id",
        "llm-jp-3-13b-instruct", "engine.trtllm.mode", "endpoint"), model("llm-jp-3-13b-instruct"), "<s>", 256, 4096));
    assertTrue(y.getMessage().startsWith("engine.trtllm.endpoints: missing"), y.getMessage());
  }
}
