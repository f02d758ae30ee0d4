package dev.jgen.engine.llamanative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.model.TinyLora;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.prompt.HfTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 31 items 4 and 2 (the adapter applied by llama.cpp itself): the tiny model's random LoRA adapter, written by
 * jgen in llama.cpp's adapter format, loads in the native server; at scale 0 the output is the base model's, at scale 1
 * it is the merged model's (W + B A written by jgen), token for token; an adapter of another model fails at load.
 */
class NativeLoraTest {
  @TempDir static Path dir;
  static Path model;
  static TinyLora lora = TinyLora.named("keigo");
  static HfTokenizer tokenizer;
  static final List<String> PROMPTS = List.of("<s>\n\n### 指示:\n日本の首都はどこですか。\n\n### 応答:\n",
      "<s>\n\n### 指示:\n丁寧な言葉で自己紹介してください。\n\n### 応答:\n", "<s>\n\n### 指示:\n春の俳句を一つ。\n\n### 応答:\n");

  @BeforeAll
  static void write() throws Exception {
    Assumptions.assumeTrue(NativeBuild.server().isPresent(), "no native build on this machine");
    model = TinyModelWriter.write(dir.resolve("tiny"), TinyModelSpec.tiny());
    lora.writeAdapter(model.resolve(lora.fileName()), TinyModelSpec.tiny());
    TinyModelWriter.writeMerged(model.resolve("merged-" + lora.name()), TinyModelSpec.tiny(), lora, 1.0);
    byte[] tj = Files.readAllBytes(model.resolve("tokenizer.json"));
    tokenizer = HfTokenizer.shared("lora-test-" + tj.length, tj);
  }

  private static EngineSpec spec(Path gguf, Map<String, String> extra) {
    Map<String, String> o = new TreeMap<>(Map.of("threads", "1", "parallel", "2", "ctx_size", "512"));
    o.putAll(extra);
    return new EngineSpec("llamacpp", gguf.toString(), o);
  }

  /** Greedy text and token count of each prompt. */
  private static List<String> greedy(EngineSpec spec) throws Exception {
    List<String> out = new ArrayList<>();
    try (Engine e = new NativeLlamaEngineProvider().open(spec)) {
      for (String p : PROMPTS) {
        Completion c = e.submit(new CompletionRequest("r", p, tokenizer.encode(p),
            new SamplingParams(24, 0.0, 1.0, 0, 1.0, 0, List.of()))).get(120, TimeUnit.SECONDS);
        out.add(c.completionTokens() + ":" + c.text());
      }
    }
    return out;
  }

  @Test
  void scaleZeroIsTheBaseModelAndScaleOneIsTheMergedModelTokenForToken() throws Exception {
    Path base = model.resolve(TinyModelWriter.GGUF_FILE);
    String adapter = model.resolve(lora.fileName()).toString();
    List<String> plain = greedy(spec(base, Map.of()));
    List<String> atZero = greedy(spec(base, Map.of("lora", adapter, "lora_scale", "0")));
    List<String> atOne = greedy(spec(base, Map.of("lora", adapter, "lora_scale", "1")));
    List<String> merged = greedy(spec(model.resolve("merged-" + lora.name()).resolve(TinyModelWriter.GGUF_FILE), Map.of()));
    assertEquals(plain, atZero, "scale 0: the base model");
    assertEquals(merged, atOne, "scale 1: the merged model, token for token");
    assertNotEquals(plain, atOne, "the adapter changes the output");
  }

  @Test
  void anAdapterOfAnotherModelFailsAtLoadNamingTheAdapterAndTheMismatch() throws Exception {
    TinyModelSpec other = new TinyModelSpec(128, 2, 4, 2, 256, 2048, 0, dev.jgen.model.TensorType.F32, 42L);
    Path wrong = lora.writeAdapter(dir.resolve("wide-" + lora.fileName()), other);
    var e = assertThrows(RuntimeException.class,
        () -> greedy(spec(model.resolve(TinyModelWriter.GGUF_FILE), Map.of("lora", wrong.toString()))));
    String m = String.valueOf(e.getMessage());
    assertTrue(m.contains(wrong.toString()), m);
    assertTrue(m.contains("incorrect shape") || m.contains("wrong base model"), m);
  }
}
