package dev.jgen.engine.llamanative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.LoraAdapter;
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
 * Issue 31 items 4 and 2 (adapters applied by llama.cpp itself, per request): the tiny model's random LoRA adapter,
 * written by jgen in llama.cpp's adapter format, loads in the native server; at scale 0 the output is the base model's,
 * at scale 1 it is the merged model's (W + B A written by jgen), token for token; requests of several adapter sets in
 * flight together each get their own answer; an adapter of another model fails at load.
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
    Map<String, String> o = new TreeMap<>(Map.of("threads", "1", "parallel", "4", "ctx_size", "1024"));
    o.putAll(extra);
    return new EngineSpec("llamacpp", gguf.toString(), o);
  }

  private static LoraAdapter adapter(String path, double scale) {
    return new LoraAdapter(lora.name(), 0, path, scale, "sha-of-" + lora.name());
  }

  private static CompletionRequest request(String prompt, LoraAdapter adapter) {
    return new CompletionRequest("r", prompt, tokenizer.encode(prompt), new SamplingParams(24, 0.0, 1.0, 0, 1.0, 0, List.of()),
        null, adapter);
  }

  /** Greedy text and token count of each prompt, one request at a time, each with {@code adapter} (null: none). */
  private static List<String> greedy(EngineSpec spec, LoraAdapter adapter) throws Exception {
    List<String> out = new ArrayList<>();
    try (Engine e = new NativeLlamaEngineProvider().open(spec)) {
      for (String p : PROMPTS) {
        Completion c = e.submit(request(p, adapter)).get(120, TimeUnit.SECONDS);
        out.add(c.completionTokens() + ":" + c.text());
      }
    }
    return out;
  }

  @Test
  void scaleZeroIsTheBaseModelAndScaleOneIsTheMergedModelTokenForToken() throws Exception {
    Path base = model.resolve(TinyModelWriter.GGUF_FILE);
    String path = model.resolve(lora.fileName()).toString();
    EngineSpec withAdapter = spec(base, Map.of("lora_paths", path));
    List<String> plain = greedy(spec(base, Map.of()), null);
    List<String> atZero = greedy(withAdapter, adapter(path, 0));
    List<String> atOne = greedy(withAdapter, adapter(path, 1));
    List<String> merged = greedy(spec(model.resolve("merged-" + lora.name()).resolve(TinyModelWriter.GGUF_FILE), Map.of()), null);
    assertEquals(plain, atZero, "scale 0: the base model");
    assertEquals(merged, atOne, "scale 1: the merged model, token for token");
    assertNotEquals(plain, atOne, "the adapter changes the output");
    // The server that loaded the adapter still serves the base model to requests that name none.
    assertEquals(plain, greedy(withAdapter, null), "no adapter on an engine with adapters: the base model");
  }

  /**
   * Requests of the base model, of the adapter at 1 and at 0.5, all in flight at once on one server: decode steps hold
   * sequences of several adapter sets (decoded set by set), and each answer equals the one its request gets alone.
   */
  @Test
  void requestsOfSeveralAdaptersInFlightTogetherEachMatchTheirOwnRun() throws Exception {
    Path base = model.resolve(TinyModelWriter.GGUF_FILE);
    String path = model.resolve(lora.fileName()).toString();
    EngineSpec spec = spec(base, Map.of("lora_paths", path, "prefix_cache", "false"));
    List<LoraAdapter> sets = java.util.Arrays.asList(null, adapter(path, 1), adapter(path, 0.5));
    Map<String, List<String>> alone = new TreeMap<>();
    for (LoraAdapter a : sets) {
      alone.put(a == null ? "base" : "scale " + a.scale(), greedy(spec, a));
    }
    assertEquals(3, new java.util.HashSet<>(alone.values()).size(), "three adapter sets, three different outputs: " + alone);
    Map<String, List<String>> together = new TreeMap<>();
    try (Engine e = new NativeLlamaEngineProvider().open(spec)) {
      Map<String, List<java.util.concurrent.CompletableFuture<Completion>>> futures = new TreeMap<>();
      for (String p : PROMPTS) {  // interleaved: base, 1, 0.5, base, 1, 0.5, ...
        for (LoraAdapter a : sets) {
          futures.computeIfAbsent(a == null ? "base" : "scale " + a.scale(), k -> new ArrayList<>()).add(e.submit(request(p, a)));
        }
      }
      for (Map.Entry<String, List<java.util.concurrent.CompletableFuture<Completion>>> f : futures.entrySet()) {
        List<String> out = new ArrayList<>();
        for (var c : f.getValue()) {
          Completion done = c.get(120, TimeUnit.SECONDS);
          out.add(done.completionTokens() + ":" + done.text());
        }
        together.put(f.getKey(), out);
      }
    }
    assertEquals(alone, together);
  }

  @Test
  void anAdapterIndexTheServerDidNotLoadIsTheRowsError() throws Exception {
    Path base = model.resolve(TinyModelWriter.GGUF_FILE);
    try (NativeLlamaEngine e = (NativeLlamaEngine) new NativeLlamaEngineProvider().open(
        spec(base, Map.of("lora_paths", model.resolve(lora.fileName()).toString())))) {
      var bad = e.server().sendRaw("77", "G 77 4 0 1 0 1 0 0 3 1 2 3 - 1:1.0");
      var ex = assertThrows(java.util.concurrent.ExecutionException.class, () -> bad.get(60, TimeUnit.SECONDS));
      assertTrue(String.valueOf(ex.getCause().getMessage()).contains("adapter 1 is not loaded (this server has 1 LoRA adapters"),
          String.valueOf(ex.getCause()));
      // The server goes on: the next request is answered.
      assertEquals(24, e.submit(request(PROMPTS.get(0), adapter(model.resolve(lora.fileName()).toString(), 1)))
          .get(120, TimeUnit.SECONDS).completionTokens());
    }
  }

  @Test
  void anAdapterOfAnotherModelFailsAtLoadNamingTheAdapterAndTheMismatch() throws Exception {
    TinyModelSpec other = new TinyModelSpec(128, 2, 4, 2, 256, 2048, 0, dev.jgen.model.TensorType.F32, 42L);
    Path wrong = lora.writeAdapter(dir.resolve("wide-" + lora.fileName()), other);
    var e = assertThrows(RuntimeException.class,
        () -> greedy(spec(model.resolve(TinyModelWriter.GGUF_FILE), Map.of("lora_paths", wrong.toString())), null));
    String m = String.valueOf(e.getMessage());
    assertTrue(m.contains(wrong.toString()), m);
    assertTrue(m.contains("incorrect shape") || m.contains("wrong base model"), m);
  }
}
