package dev.jgen.engine.llamacpp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.catalog.ModelResolver;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.EngineException;
import dev.jgen.engine.SamplingParams;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** The embedded engine on the tiny models: stopping, stop strings, cancellation, close during generation. */
class LlamaCppEngineTest {
  private static final PromptTranslator TRANSLATOR = new PromptTranslator(TestModels.spec("tiny-llama-ja", true, "reject"));

  private static String gguf(String catalogId) {
    return new ModelResolver(TestModels.catalog(), ModelResolver.defaultCacheDir()).resolve(catalogId, null, true).gguf()
        .toString();
  }

  private static CompletionRequest request(String id, String prompt, SamplingParams p) {
    // the translator checks prompt + max_new_tokens against the catalog context (2048); the engines here have more
    PreparedPrompt pp = TRANSLATOR.prepare(ChatInput.ofPrompt(prompt), Math.min(p.maxNewTokens(), 64));
    return new CompletionRequest(id, pp.text(), pp.tokenIds(), p);
  }

  private static void await(String what, long seconds, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out after " + seconds + " s waiting for " + what);
      Thread.sleep(5);
    }
  }

  @Test
  void theDefaultTinyModelIsUnchangedByTheEosOption() throws Exception {
    // other tests pin the default model's outputs: its GGUF must stay byte-identical (sha256 of writer version 2)
    Path dir = TinyModelWriter.ensure(ModelResolver.defaultCacheDir().resolve("models"), TinyModelSpec.tiny());
    String meta = Files.readString(dir.resolve(TinyModelWriter.METADATA_FILE));
    assertTrue(meta.contains("19d030c1f3f60b40bf052929766d3096396a1d12cac4cc14128db988a31e72f5"), meta);
    assertEquals("llama-h64-l2-a4-kv2-ff128-ctx2048-v0-f32-s42", TinyModelSpec.tiny().name());
    assertEquals("llama-h64-l2-a4-kv2-ff128-ctx2048-v0-f32-s42-eos0.85", TinyModelSpec.tinyStopping().name());
  }

  @Test
  void theStoppingModelStopsSomeRowsAndRunsOthersToTheLimit() throws Exception {
    int max = 32;
    List<Completion> out = new ArrayList<>();
    try (LlamaCppEngine e = new LlamaCppEngine(gguf("tiny-llama-ja-stop"), 1, 2, 512)) {
      List<CompletableFuture<Completion>> fs = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        fs.add(e.submit(request("r" + i, "質問 " + i + ": 日本の首都は？", new SamplingParams(max, 0.7, 0.95, 40, 1.0, i,
            List.of()))));
      }
      for (CompletableFuture<Completion> f : fs) {
        out.add(f.get(120, TimeUnit.SECONDS));
      }
    }
    int stop = 0;
    int length = 0;
    int empty = 0;
    for (Completion c : out) {
      if (c.finishReason().equals("length")) {
        length++;
        assertEquals(max, c.completionTokens(), c.toString());
      } else {
        assertEquals("stop", c.finishReason());
        stop++;
        // the EOS token counts, as in llama.cpp's tokens_predicted; text before it: one token or more
        assertTrue(c.completionTokens() >= 1 && c.completionTokens() < max, c.toString());
      }
      if (c.text().isEmpty()) {
        empty++;
        assertEquals("stop", c.finishReason(), "an empty output is an EOS at once");
        assertEquals(1, c.completionTokens(), c.toString());
      }
    }
    assertTrue(stop > 0 && length > 0 && empty > 0, "stop " + stop + ", length " + length + ", empty " + empty);
  }

  @Test
  void stopStringsAreCutWhereTheyFirstAppearAndNotIncluded() throws Exception {
    // One slot: the reference and the stopped request must produce the same tokens, and llama.cpp's logits differ in
    // their last bits with the slot's cache state (cache_prompt reuses a slot's cached prefix, and with two slots
    // timing decides which one a request gets); on the tiny model's near-uniform logits that changed even greedy picks
    // from the first token (seen in a full run). With one slot and the prompt generated once before, the reference and
    // the stopped request both find the whole prompt in the slot's cache and decode from the same cells.
    try (LlamaCppEngine e = new LlamaCppEngine(gguf("tiny-llama-ja"), 1, 1, 512)) {
      int checked = 0;
      for (int i = 0; i < 6; i++) {
        SamplingParams free = new SamplingParams(40, 0.0, 0.95, 40, 1.0, 100 + i, List.of());
        e.submit(request("w" + i, "文章 " + i, free)).get(60, TimeUnit.SECONDS);
        Completion full = e.submit(request("f" + i, "文章 " + i, free)).get(60, TimeUnit.SECONDS);
        String text = full.text();
        int cps = text.codePointCount(0, text.length());
        if (cps < 12) {
          continue;
        }
        // a two-character stop string from the middle of the free text: llama.cpp's server documents that the
        // stopping strings "will not be included in the completion"; the text before its first occurrence stays
        String stopString = text.substring(text.offsetByCodePoints(0, 6), text.offsetByCodePoints(0, 8));
        String expected = text.substring(0, text.indexOf(stopString));
        SamplingParams stopped = new SamplingParams(40, 0.0, 0.95, 40, 1.0, 100 + i, List.of("\u0000never", stopString));
        Completion cut = e.submit(request("s" + i, "文章 " + i, stopped)).get(60, TimeUnit.SECONDS);
        assertEquals(expected, cut.text(), "stop " + stopString + " in " + text);
        assertEquals("stop", cut.finishReason());
        assertTrue(cut.completionTokens() < full.completionTokens(), cut + " vs " + full);
        checked++;
      }
      assertTrue(checked >= 3, "only " + checked + " generations were long enough");
    }
  }

  @Test
  void cancellingAFutureFreesItsSlot() throws Exception {
    // ctx 16384 per slot and n_predict 16000: uncancelled, these two would run for tens of seconds (the tiny model
    // never emits EOS); cancelled, their slots are free at the next token
    try (LlamaCppEngine e = new LlamaCppEngine(gguf("tiny-llama-ja"), 1, 2, 16384)) {
      SamplingParams longRun = new SamplingParams(16000, 0.7, 0.95, 40, 1.0, 1, List.of());
      CompletableFuture<Completion> a = e.submit(request("long-a", "長い文章 a", longRun));
      CompletableFuture<Completion> b = e.submit(request("long-b", "長い文章 b", longRun));
      await("both long requests to generate", 60, () -> e.generating() == 2);
      long t0 = System.nanoTime();
      assertTrue(a.cancel(true) && b.cancel(true));
      await("the cancelled requests to leave llama.cpp", 20, () -> e.generating() == 0);
      long freedMs = (System.nanoTime() - t0) / 1_000_000;
      assertThrows(CancellationException.class, a::join);
      SamplingParams shortRun = new SamplingParams(4, 0.7, 0.95, 40, 1.0, 2, List.of());
      Completion c1 = e.submit(request("short-1", "短い", shortRun)).get(60, TimeUnit.SECONDS);
      Completion c2 = e.submit(request("short-2", "短い", shortRun)).get(60, TimeUnit.SECONDS);
      assertEquals(4, c1.completionTokens());
      assertEquals(4, c2.completionTokens());
      assertEquals(0, e.inFlight());
      System.out.println("llama.cpp slots free " + freedMs + " ms after cancel");
    }
  }

  @Test
  void closeDuringGenerationCancelsAndFreesWithoutCrashOrHang() throws Exception {
    LlamaCppEngine e = new LlamaCppEngine(gguf("tiny-llama-ja"), 1, 2, 16384);
    SamplingParams longRun = new SamplingParams(16000, 0.7, 0.95, 40, 1.0, 1, List.of());
    List<CompletableFuture<Completion>> fs = new ArrayList<>();
    for (int i = 0; i < 4; i++) { // two generating, two queued behind them
      fs.add(e.submit(request("long-" + i, "長い文章 " + i, longRun)));
    }
    await("two long requests to generate", 60, () -> e.generating() == 2);
    long t0 = System.nanoTime();
    e.close();
    long closeMs = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(closeMs < LlamaCppEngine.CLOSE_WAIT_SECONDS * 1000, "close took " + closeMs + " ms");
    assertEquals(0, e.generating(), "close returned with a waiter inside llama.cpp");
    for (CompletableFuture<Completion> f : fs) {
      assertTrue(f.isCancelled(), f.toString());
    }
    ExecutionException after = assertThrows(ExecutionException.class,
        () -> e.submit(request("late", "遅い", longRun)).get(10, TimeUnit.SECONDS));
    assertTrue(after.getCause() instanceof EngineException, String.valueOf(after.getCause()));
    e.close(); // idempotent
    System.out.println("close during generation took " + closeMs + " ms");
  }
}
