package dev.jgen.engine.llamanative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.catalog.ModelResolver;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.engine.llamacpp.LlamaCppEngineProvider;
import dev.jgen.model.TensorType;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.prompt.HfTokenizer;
import dev.jgen.testing.TestModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The natively built engine on the tiny GGUF the project writes: same greedy tokens as the embedded jar, stop strings,
 * seeds, KV-cache limits, cancellation. The build itself is bin/build-native's (a no-op when up to date).
 */
class NativeLlamaEngineTest {
  private static final List<String> PROMPTS = List.of("こんにちは。今日は何をしましたか?", "日本の首都はどこですか。",
      "Write one sentence about the sea.");
  private static Path gguf;
  private static Path root;
  private static HfTokenizer tokenizer;
  private static Engine engine;

  @BeforeAll
  static void build() throws Exception {
    root = repoRoot();
    Process p = new ProcessBuilder(root.resolve("bin/build-native").toString(), "--print").redirectErrorStream(false)
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    int rc = p.waitFor();
    // 3: no compiler here; then the jar is the engine (and LlamaCppEngineProviderTest covers it); anything else is a bug.
    Assumptions.assumeTrue(rc != 3, "no native build possible on this machine");
    assertEquals(0, rc, "bin/build-native failed");
    assertTrue(Files.isExecutable(Path.of(out)), out);
    Path dir = TestModels.tinyDir();
    gguf = dir.resolve("model.gguf");
    byte[] tj = Files.readAllBytes(dir.resolve("tokenizer.json"));
    tokenizer = HfTokenizer.shared("native-test-" + tj.length, tj);
    engine = new NativeLlamaEngineProvider().open(spec(Map.of("parallel", "4", "threads", "2")));
  }

  @AfterAll
  static void close() {
    if (engine != null) {
      engine.close();
    }
  }

  static Path repoRoot() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.isRegularFile(d.resolve("bin/build-native"))) {
        return d;
      }
    }
    throw new IllegalStateException("bin/build-native not found above " + Path.of("").toAbsolutePath());
  }

  static EngineSpec spec(Map<String, String> extra) {
    Map<String, String> o = new java.util.TreeMap<>(Map.of("threads", "1", "parallel", "2", "ctx_size", "512"));
    o.putAll(extra);
    return new EngineSpec("llamacpp", gguf.toString(), o);
  }

  static SamplingParams greedy(int maxNew, List<String> stop) {
    return new SamplingParams(maxNew, 0.0, 1.0, 0, 1.0, 0, stop);
  }

  static Completion run(Engine e, String prompt, SamplingParams p) throws Exception {
    return e.submit(new CompletionRequest("r", prompt, tokenizer.encode(prompt), p)).get(120, TimeUnit.SECONDS);
  }

  @Test
  void buildScriptAndJavaAgreeOnTheSourceVersion() throws IOException {
    String script = Files.readString(root.resolve("bin/build-native"));
    String pkg = script.replaceAll("(?s).*\nNPM_PACKAGE=(\\S+).*", "$1");
    String ver = script.replaceAll("(?s).*\nNPM_VERSION=(\\S+).*", "$1");
    assertEquals(NativeBuild.SOURCE_VERSION, pkg + "-" + ver);
  }

  @Test
  void greedyTokensMatchTheEmbeddedJar() throws Exception {
    // Same GGUF, same prompt ids, greedy: the embedded jar (llama.cpp b4916, AVX2) and the native build (a newer
    // llama.cpp, this CPU's kernels) must pick the same tokens. The jar reports text, so text and counts are compared;
    // the native side's ids must decode to that text.
    try (Engine jar = new LlamaCppEngineProvider().open(spec(Map.of("impl", "jar")))) {
      for (String prompt : PROMPTS) {
        Completion n = run(engine, prompt, greedy(24, List.of()));
        Completion j = run(jar, prompt, greedy(24, List.of()));
        assertEquals(j.text(), n.text(), prompt);
        assertEquals(j.finishReason(), n.finishReason(), prompt);
        if (j.finishReason().equals("length")) {
          assertEquals(24, n.completionTokens());
        }
        assertEquals(tokenizer.encode(prompt).length, n.promptTokens());
      }
    }
  }

  @Test
  void tokenIdsAndCountsAreExact() throws Exception {
    LlamaServerProcess server = ((NativeLlamaEngine) engine).server();
    int[] ids = tokenizer.encode(PROMPTS.get(0));
    LlamaServerProcess.Reply r = server.generate(ids, greedy(16, List.of())).get(120, TimeUnit.SECONDS);
    assertEquals(r.completionTokens(), r.tokenIds().length);
    assertTrue(r.completionTokens() <= 16);
    assertEquals(r.completionTokens() == 16 ? "length" : "stop", r.finishReason());
    // The same request again, alone or among others, gives the same ids.
    List<CompletableFuture<LlamaServerProcess.Reply>> many = new java.util.ArrayList<>();
    for (int i = 0; i < 6; i++) {
      many.add(server.generate(i % 2 == 0 ? ids : tokenizer.encode(PROMPTS.get(1)), greedy(16, List.of())));
    }
    for (int i = 0; i < 6; i += 2) {
      assertEquals(java.util.Arrays.toString(r.tokenIds()),
          java.util.Arrays.toString(many.get(i).get(120, TimeUnit.SECONDS).tokenIds()));
    }
  }

  @Test
  void sequencesSampledTogetherKeepTheirOwnTokens() throws Exception {
    // Sampled rows make the server pick every running sequence's token on its thread pool: a greedy row among them
    // must still get exactly its own tokens (the ids it gets alone), and every row its requested length or a stop.
    LlamaServerProcess server = ((NativeLlamaEngine) engine).server();
    int[] ids = tokenizer.encode(PROMPTS.get(0));
    String alone = java.util.Arrays.toString(server.generate(ids, greedy(24, List.of())).get(120, TimeUnit.SECONDS).tokenIds());
    for (int round = 0; round < 3; round++) {
      List<CompletableFuture<LlamaServerProcess.Reply>> sampled = new java.util.ArrayList<>();
      for (int i = 0; i < 3; i++) {
        sampled.add(server.generate(tokenizer.encode(PROMPTS.get(1 + i % 2)),
            new SamplingParams(24, 1.0, 0.95, 0, 1.0, round * 10L + i, List.of())));
      }
      CompletableFuture<LlamaServerProcess.Reply> greedyRow = server.generate(ids, greedy(24, List.of()));
      assertEquals(alone, java.util.Arrays.toString(greedyRow.get(120, TimeUnit.SECONDS).tokenIds()), "round " + round);
      for (CompletableFuture<LlamaServerProcess.Reply> f : sampled) {
        LlamaServerProcess.Reply r = f.get(120, TimeUnit.SECONDS);
        assertEquals(r.completionTokens(), r.tokenIds().length);
        assertEquals(r.completionTokens() == 24 ? "length" : "stop", r.finishReason());
      }
    }
  }

  @Test
  void theEngineReportsItsGenerationWindow() throws Exception {
    try (Engine fresh = new NativeLlamaEngineProvider().open(spec(Map.of()))) {
      assertTrue(fresh.serverMetrics().isEmpty(), "nothing generated yet: no window");
      long tokens = 0;
      long t0 = System.nanoTime();
      List<CompletableFuture<Completion>> all = new java.util.ArrayList<>();
      for (int i = 0; i < 6; i++) {
        all.add(fresh.submit(new CompletionRequest("w" + i, PROMPTS.get(i % PROMPTS.size()),
            tokenizer.encode(PROMPTS.get(i % PROMPTS.size())), greedy(8 + i, List.of()))));
      }
      for (CompletableFuture<Completion> f : all) {
        tokens += f.get(120, TimeUnit.SECONDS).completionTokens();
      }
      double elapsed = (System.nanoTime() - t0) / 1e9;
      Map<String, Double> m = fresh.serverMetrics();
      assertEquals(6.0, m.get("answered"));
      assertEquals((double) tokens, m.get("completion_tokens"));
      double window = m.get("generation_window_s");
      assertTrue(window > 0 && window <= elapsed, "window " + window + " s within the " + elapsed + " s measured around it");
      assertEquals(tokens / window, m.get("completion_tokens_per_s"), 1e-6);
    }
  }

  @Test
  void theServerConvertsJsonSchemasItself() throws Exception {
    // llama.cpp's json_schema_to_grammar runs in the server process (no llama.cpp code in the JVM): the enum leaves
    // the model two possible outputs, each a complete JSON document.
    String schema = "{\"type\":\"object\",\"properties\":{\"c\":{\"enum\":[\"赤\",\"青\"]}},\"required\":[\"c\"],"
        + "\"additionalProperties\":false}";
    dev.jgen.structured.OutputConstraint constraint =
        new dev.jgen.structured.OutputConstraint(dev.jgen.structured.OutputConstraint.Kind.JSON_SCHEMA, schema, null);
    for (int i = 0; i < 3; i++) {
      Completion c = engine.submit(new CompletionRequest("schema" + i, PROMPTS.get(i % PROMPTS.size()),
          tokenizer.encode(PROMPTS.get(i % PROMPTS.size())), greedy(96, List.of()), constraint)).get(120, TimeUnit.SECONDS);
      String v = new com.fasterxml.jackson.databind.ObjectMapper().readTree(c.text().strip()).get("c").asText();
      assertTrue(v.equals("赤") || v.equals("青"), c.text());
    }
    // A schema llama.cpp's converter refuses is that row's error, named as such; the server goes on.
    dev.jgen.structured.OutputConstraint bad =
        new dev.jgen.structured.OutputConstraint(dev.jgen.structured.OutputConstraint.Kind.JSON_SCHEMA, "{\"type\": ", null);
    ExecutionException e = assertThrows(ExecutionException.class, () -> engine.submit(new CompletionRequest("bad",
        PROMPTS.get(0), tokenizer.encode(PROMPTS.get(0)), greedy(8, List.of()), bad)).get(120, TimeUnit.SECONDS));
    assertTrue(e.getCause().getMessage().contains("could not convert the JSON schema to a grammar"), e.getCause().getMessage());
    assertEquals(1, engine.submit(new CompletionRequest("after", PROMPTS.get(0), tokenizer.encode(PROMPTS.get(0)),
        greedy(1, List.of()))).get(120, TimeUnit.SECONDS).completionTokens());
  }

  @Test
  void byteFallbackTokensAreCountedOneByOne() throws Exception {
    // An emoji and a rare kanji (U+20BB7) are not in the tiny vocabulary: the grammar forces the model to spell them
    // with byte-fallback tokens (ids 3..258, one per UTF-8 byte). llama.cpp streams such a character as one piece once
    // its bytes are complete, so a count of streamed pieces says 3 where 12 tokens were generated.
    String text = "😀𠮷😀";
    int bytes = text.getBytes(StandardCharsets.UTF_8).length;
    assertEquals(12, bytes);
    LlamaServerProcess server = ((NativeLlamaEngine) engine).server();
    LlamaServerProcess.Reply r = server.generate(tokenizer.encode(PROMPTS.get(0)), greedy(32, List.of()),
        LlamaServerProcess.Constraint.grammar("root ::= \"" + text + "\"")).get(120, TimeUnit.SECONDS);
    assertEquals(text, r.text());
    assertEquals(r.tokenIds().length, r.completionTokens(), "count and ids agree");
    for (int id : r.tokenIds()) {
      assertTrue(id >= 3 && id <= 258 || id == 2, "a byte token (or EOS) expected, got " + id);
    }
    long byteTokens = java.util.Arrays.stream(r.tokenIds()).filter(id -> id >= 3 && id <= 258).count();
    assertEquals(bytes, byteTokens, java.util.Arrays.toString(r.tokenIds()));
    // 12 byte tokens and the EOS that ended the generation (sampled, so counted, as llama.cpp's server counts
    // tokens_predicted and vLLM its usage): 13 tokens for 3 characters.
    assertEquals(bytes + 1, r.completionTokens(), java.util.Arrays.toString(r.tokenIds()));
    assertEquals(2, r.tokenIds()[r.tokenIds().length - 1], "the last id is EOS");
    assertEquals(3, text.codePointCount(0, text.length()));
    assertEquals("stop", r.finishReason(), "the grammar ends: the only token left is EOS");
    // Through the engine interface (what the job records as completion_tokens) the count is the same.
    Completion c = engine.submit(new CompletionRequest("bytes", PROMPTS.get(0), tokenizer.encode(PROMPTS.get(0)),
        greedy(32, List.of()), new dev.jgen.structured.OutputConstraint(dev.jgen.structured.OutputConstraint.Kind.GRAMMAR,
            "root ::= \"" + text + "\"", null))).get(120, TimeUnit.SECONDS);
    assertEquals(text, c.text());
    assertEquals(r.completionTokens(), c.completionTokens());
  }

  @Test
  void stopStringsCutTheTextAndStopEarly() throws Exception {
    String prompt = PROMPTS.get(1);
    Completion full = run(engine, prompt, greedy(32, List.of()));
    Assumptions.assumeTrue(full.text().length() >= 8, "the tiny model answered too briefly: " + full.text());
    String stop = full.text().substring(4, 7);
    Completion cut = run(engine, prompt, greedy(32, List.of(stop)));
    assertEquals(full.text().substring(0, full.text().indexOf(stop)), cut.text());
    assertEquals("stop", cut.finishReason());
    assertTrue(cut.completionTokens() < full.completionTokens(), cut + " vs " + full);
  }

  @Test
  void seedsRepeatAndDiffer() throws Exception {
    String prompt = PROMPTS.get(0);
    Set<String> texts = new HashSet<>();
    for (long seed = 1; seed <= 4; seed++) {
      SamplingParams p = new SamplingParams(16, 1.0, 0.95, 40, 1.1, seed, List.of());
      Completion a = run(engine, prompt, p);
      Completion b = run(engine, prompt, p);
      assertEquals(a.text(), b.text(), "seed " + seed);
      texts.add(a.text());
    }
    assertTrue(texts.size() > 1, "four seeds gave one text: " + texts);
  }

  @Test
  void aRowTooLongForTheKvCacheIsARowErrorNamingBothNumbers() throws Exception {
    try (Engine small = new NativeLlamaEngineProvider().open(spec(Map.of("ctx_size", "64")))) {
      int[] ids = tokenizer.encode("長い文章です。".repeat(12));
      assertTrue(ids.length + 16 > 64);
      CompletableFuture<Completion> f = small.submit(new CompletionRequest("long", "", ids, greedy(16, List.of())));
      ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS));
      assertInstanceOf(EngineException.class, e.getCause());
      String msg = e.getCause().getMessage();
      assertTrue(msg.contains(String.valueOf(ids.length + 16)) && msg.contains("64"), msg);
      // The server goes on: a row that fits still runs.
      assertNotEquals("", small.submit(new CompletionRequest("ok", "", tokenizer.encode("はい"), greedy(4, List.of())))
          .get(60, TimeUnit.SECONDS).finishReason());
    }
  }

  @Test
  void cancellingAFutureCancelsItsSequence() throws Exception {
    try (NativeLlamaEngine one = (NativeLlamaEngine) new NativeLlamaEngineProvider().open(spec(Map.of("parallel", "1",
        "ctx_size", "2048")))) {
      int[] ids = tokenizer.encode(PROMPTS.get(2));
      CompletableFuture<Completion> longRow = one.submit(new CompletionRequest("a", "", ids, greedy(2000, List.of())));
      assertTrue(longRow.cancel(true));
      assertThrows(CancellationException.class, longRow::join);
      Completion next = one.submit(new CompletionRequest("b", "", ids, greedy(8, List.of()))).get(120, TimeUnit.SECONDS);
      assertTrue(next.completionTokens() > 0);
      assertEquals(1, one.server().cancelledInServer(), "the server confirmed the cancel");
    }
  }

  @Test
  void aQuantizedModelRunsOnThisCpusMatrixKernels() throws Exception {
    // Q4_0 weights take the CPU's quantized kernels (on AMX CPUs ggml's AMX tiles for every batch of more than one
    // token; the unpatched release died there with SIGILL, native/patches/README.md). Prompts are several tokens and
    // two rows run at once, so prompt batches and multi-sequence decode steps both go through them.
    Path q4 = TinyModelWriter.ensure(ModelResolver.defaultCacheDir().resolve("models"),
        TinyModelSpec.tiny().withType(TensorType.Q4_0));
    EngineSpec s = new EngineSpec("llamacpp", q4.resolve("model.gguf").toString(),
        Map.of("threads", "2", "parallel", "2", "ctx_size", "512"));
    try (NativeLlamaEngine e = (NativeLlamaEngine) new NativeLlamaEngineProvider().open(s)) {
      List<CompletableFuture<Completion>> rows = new java.util.ArrayList<>();
      for (String prompt : PROMPTS) {
        rows.add(e.submit(new CompletionRequest(prompt, "", tokenizer.encode(prompt), greedy(12, List.of()))));
      }
      for (int i = 0; i < rows.size(); i++) {
        Completion c = rows.get(i).get(120, TimeUnit.SECONDS);
        assertEquals(tokenizer.encode(PROMPTS.get(i)).length, c.promptTokens());
        assertTrue(c.completionTokens() > 0 && c.completionTokens() <= 12, c.toString());
        assertEquals(c.completionTokens() == 12 ? "length" : "stop", c.finishReason());
      }
    }
  }

  @Test
  void llamacppKindUsesTheNativeBuildWhenThereIsOne() {
    try (Engine e = new LlamaCppEngineProvider().open(spec(Map.of()))) {
      assertTrue(e.info().version().contains("native"), e.info().version());
    }
    EngineException bad = assertThrows(EngineException.class,
        () -> new LlamaCppEngineProvider().open(spec(Map.of("impl", "gpu"))));
    assertTrue(bad.getMessage().contains("auto, native or jar"), bad.getMessage());
  }

  /** Hex of a string's UTF-8 bytes, as the protocol writes strings. */
  private static String hex(String s) {
    return LlamaServerProcess.toHex(s);
  }

  @Test
  void badInputFailsItsOwnRequestAloneAndTheServerLives() throws Exception {
    // Raw protocol lines the JVM never writes (it hex-encodes stop strings and sends tokenizer ids), next to good rows
    // generating at the same time: each bad line gets its own E reply naming the cause, the good rows their answers,
    // and the process stays the same one (a non-hex stop string ended it with std::stoi's terminate, exit 134; an
    // out-of-vocabulary id failed every row of its decode step).
    LlamaServerProcess server = ((NativeLlamaEngine) engine).server();
    long pid = server.pid();
    int[] good = tokenizer.encode(PROMPTS.get(0));
    String goodIds = String.join(" ", java.util.Arrays.stream(good).mapToObj(String::valueOf).toList());
    String alone = java.util.Arrays.toString(server.generate(good, greedy(24, List.of())).get(120, TimeUnit.SECONDS).tokenIds());
    int nVocab = 64 * 1024 * 1024;
    Map<String, String> bad = new java.util.LinkedHashMap<>();
    Map<String, String> cause = new java.util.HashMap<>();
    bad.put("nonhex", "G nonhex 8 0.0 1.0 0 1.0 0 1 zz " + good.length + " " + goodIds + " -");
    cause.put("nonhex", "not hex-encoded");
    bad.put("oddhex", "G oddhex 8 0.0 1.0 0 1.0 0 1 abc " + good.length + " " + goodIds + " -");
    cause.put("oddhex", "not hex-encoded");
    bad.put("oov", "G oov 8 0.0 1.0 0 1.0 0 0 3 5 " + nVocab + " 7 -");
    cause.put("oov", "outside the model's vocabulary");
    bad.put("negative", "G negative 8 0.0 1.0 0 1.0 0 0 2 5 -3 -");
    cause.put("negative", "outside the model's vocabulary");
    bad.put("toolong", "G toolong 8 0.0 1.0 0 1.0 0 0 100000 " + goodIds + " -");
    cause.put("toolong", "longer than the engine's KV cache");
    bad.put("grammar", "G grammar 8 0.0 1.0 0 1.0 0 0 " + good.length + " " + goodIds + " g" + hex("root ::= undefined-rule"));
    cause.put("grammar", "could not parse the grammar");
    bad.put("schema", "G schema 8 0.0 1.0 0 1.0 0 0 " + good.length + " " + goodIds + " j" + hex("{\"$ref\": \"#/$defs/none\"}"));
    cause.put("schema", "could not convert the JSON schema");
    bad.put("number", "G number eight 0.0 1.0 0 1.0 0 0 " + good.length + " " + goodIds + " -");
    cause.put("number", "is not an integer");
    bad.put("nan", "G nan 8 nan 1.0 0 1.0 0 0 " + good.length + " " + goodIds + " -");
    cause.put("nan", "not a finite number");
    bad.put("stopcount", "G stopcount 8 0.0 1.0 0 1.0 0 999999999 " + good.length + " " + goodIds + " -");
    cause.put("stopcount", "out of range");
    bad.put("zeromax", "G zeromax 0 0.0 1.0 0 1.0 0 0 " + good.length + " " + goodIds + " -");
    cause.put("zeromax", "max_new_tokens 0 is out of range");
    bad.put("extra", "G extra 8 0.0 1.0 0 1.0 0 0 " + good.length + " " + goodIds + " - - junk");
    cause.put("extra", "extra fields after the adapter");
    bad.put("adapterjunk", "G adapterjunk 8 0.0 1.0 0 1.0 0 0 " + good.length + " " + goodIds + " - junk");
    cause.put("adapterjunk", "adapter field 'junk' is not <index>:<scale>");
    bad.put("noadapter", "G noadapter 8 0.0 1.0 0 1.0 0 0 " + good.length + " " + goodIds + " - 0:1.0");
    cause.put("noadapter", "adapter 0 is not loaded (this server has 0 LoRA adapters");
    List<CompletableFuture<LlamaServerProcess.Reply>> goods = new java.util.ArrayList<>();
    Map<String, CompletableFuture<LlamaServerProcess.Reply>> bads = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, String> b : bad.entrySet()) {
      goods.add(server.generate(good, greedy(24, List.of())));
      bads.put(b.getKey(), server.sendRaw(b.getKey(), b.getValue()));
    }
    for (Map.Entry<String, CompletableFuture<LlamaServerProcess.Reply>> b : bads.entrySet()) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> b.getValue().get(60, TimeUnit.SECONDS), b.getKey());
      EngineException ee = assertInstanceOf(EngineException.class, e.getCause());
      assertTrue(ee.isRowError(), b.getKey() + " is a row error: " + ee.getMessage());
      assertTrue(ee.getMessage().contains(cause.get(b.getKey())), b.getKey() + ": " + ee.getMessage());
    }
    for (CompletableFuture<LlamaServerProcess.Reply> g : goods) {
      assertEquals(alone, java.util.Arrays.toString(g.get(120, TimeUnit.SECONDS).tokenIds()), "a good row beside bad ones");
    }
    assertTrue(server.isAlive());
    assertEquals(pid, server.pid());
    assertEquals(0, server.pending());
    System.out.println("bad input: " + bads.size() + " bad requests refused with row errors beside " + goods.size()
        + " good ones, all answered by pid " + pid);
  }

  @Test
  void aServerThatExitsFailsEveryPendingRequestAtOnceAndLeavesTheRegistry() throws Exception {
    // The same build in the registry, killed (SIGKILL) with requests in flight: every one fails at once with
    // EngineLostException, a request after that fails at once too, and the registry loads a new process next time.
    EngineSpec s = new EngineSpec(NativeLlamaEngineProvider.KIND, gguf.toString(),
        Map.of("threads", "1", "parallel", "2", "ctx_size", "4096"));
    dev.jgen.engine.EngineRegistry.closeAll();
    NativeLlamaEngine e = (NativeLlamaEngine) dev.jgen.engine.EngineRegistry.shared(s);
    try {
      int[] ids = tokenizer.encode(PROMPTS.get(2));
      List<CompletableFuture<Completion>> rows = new java.util.ArrayList<>();
      for (int i = 0; i < 5; i++) {
        rows.add(e.submit(new CompletionRequest("k" + i, "", ids, greedy(3000, List.of()))));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (e.server().pending() < 5) {
        assertTrue(System.nanoTime() < deadline, "requests sent");
        Thread.sleep(5);
      }
      long t0 = System.nanoTime();
      assertTrue(ProcessHandle.of(e.server().pid()).orElseThrow().destroyForcibly());
      for (CompletableFuture<Completion> f : rows) {
        ExecutionException x = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        assertInstanceOf(dev.jgen.engine.EngineLostException.class, x.getCause());
        assertTrue(x.getCause().getMessage().contains("exited"), x.getCause().getMessage());
      }
      long failedMs = (System.nanoTime() - t0) / 1_000_000;
      ExecutionException after = assertThrows(ExecutionException.class, () -> e.submit(new CompletionRequest("late", "", ids,
          greedy(4, List.of()))).get(5, TimeUnit.SECONDS));
      assertInstanceOf(dev.jgen.engine.EngineLostException.class, after.getCause());
      assertTrue(!e.isAlive());
      Engine next = dev.jgen.engine.EngineRegistry.shared(s);
      assertTrue(next != e, "a new engine after the lost one");
      assertEquals(1, next.submit(new CompletionRequest("new", "", ids, greedy(1, List.of()))).get(60, TimeUnit.SECONDS)
          .completionTokens());
      System.out.println("SIGKILL with 5 requests pending: all failed " + failedMs + " ms later; " + after.getCause().getMessage());
    } finally {
      dev.jgen.engine.EngineRegistry.closeAll();
    }
  }

  @Test
  void aServerThatDoesNotLoadInTimeIsKilledAndTheLoadFails() throws Exception {
    // A "server" that never says READY (sleep): the load fails after the load timeout, and the process is gone.
    long t0 = System.nanoTime();
    EngineException e = assertThrows(EngineException.class,
        () -> new LlamaServerProcess(List.of("bash", "-c", "echo loading >&2; exec sleep 600"), java.time.Duration.ofSeconds(2)));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(e.getMessage().contains("did not load the model within 2 s") && e.getMessage().contains("loading"), e.getMessage());
    assertTrue(ms < 15_000, ms + " ms");
    System.out.println("load timeout 2 s: failed after " + ms + " ms");
  }

  @Test
  void aRequestDeadlineFailsTheRowAsARunErrorAndCancelsItsSequence() throws Exception {
    try (NativeLlamaEngine one = (NativeLlamaEngine) new NativeLlamaEngineProvider().open(spec(Map.of("parallel", "1",
        "ctx_size", "4096")))) {
      int[] ids = tokenizer.encode(PROMPTS.get(2));
      long t0 = System.nanoTime();
      CompletableFuture<Completion> f = dev.jgen.engine.RequestDeadline.bound(
          one.submit(new CompletionRequest("slow", "", ids, greedy(4000, List.of()))), java.time.Duration.ofSeconds(1), "request slow");
      ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      EngineException ee = assertInstanceOf(EngineException.class, e.getCause());
      assertTrue(!ee.isRowError() && ee.getMessage().contains("no answer within 1 s"), ee.getMessage());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (one.server().cancelledInServer() < 1) {
        assertTrue(System.nanoTime() < deadline, "the server confirms the cancel");
        Thread.sleep(5);
      }
      assertEquals(0, one.server().pending());
      assertTrue(one.isAlive());
      System.out.println("request deadline 1 s: failed after " + ms + " ms, the sequence cancelled in the server");
    }
  }
}
