package dev.jgen.engine.llamacpp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.catalog.ModelResolver;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineRegistry;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.engine.llamanative.LlamaServerProcess;
import dev.jgen.engine.llamanative.NativeBuild;
import dev.jgen.engine.llamanative.NativeLlamaEngine;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptTranslator;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestModels;
import dev.jgen.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Spark task killed mid-partition (its job group cancelled, as a lost lock or a failed chunk does) frees its
 * llama.cpp slots within seconds: the task's completion listener ({@code ChunkTask.outputs}) cancels the window's
 * requests; the embedded engine's waiters leave llama.cpp at their next token, the native server drops the sequences
 * and says so. A real generate job in this JVM, on the tiny model with 16,000 new tokens per row (two slots of 16,384
 * tokens): uncancelled, those generations would hold the slots far longer than the bound.
 */
class KilledTaskSlotsTest {
  /** Generous for a loaded 2-core machine; what the code gives is one token per slot after the task ends. */
  private static final long BOUND_S = 30;

  @TempDir Path dir;

  private static void await(String what, long seconds, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out after " + seconds + " s waiting for " + what);
      Thread.sleep(5);
    }
  }

  /** What a test can see of an engine's slots. */
  private interface Slots {
    boolean bothBusy();

    boolean allFree();
  }

  @Test
  void embeddedEngine() throws Exception {
    measure("jar", e -> {
      LlamaCppEngine l = (LlamaCppEngine) e;
      return new Slots() {
        public boolean bothBusy() {
          return l.generating() == 2;
        }

        public boolean allFree() {
          return l.generating() == 0 && l.inFlight() == 0;
        }
      };
    }, null);
  }

  @Test
  void nativeEngine() throws Exception {
    Assumptions.assumeTrue(NativeBuild.server().isPresent(), "no native llama.cpp build (bin/build-native)");
    AtomicReference<Long> cancelledBefore = new AtomicReference<>();
    AtomicReference<LlamaServerProcess> server = new AtomicReference<>();
    measure("native", e -> {
      server.set(((NativeLlamaEngine) e).server());
      cancelledBefore.set(server.get().cancelledInServer());
      return new Slots() {
        // The task's window may queue more than the two slots in the server: at least two sent means both slots run.
        public boolean bothBusy() {
          return server.get().pending() >= 2;
        }

        // A cancelled request stays pending until the server confirms it dropped the sequence.
        public boolean allFree() {
          return server.get().pending() == 0;
        }
      };
    }, () -> assertTrue(server.get().cancelledInServer() - cancelledBefore.get() >= 2,
        "the server dropped both running sequences (they did not run to their end): "
            + (server.get().cancelledInServer() - cancelledBefore.get()) + " dropped"));
  }

  private void measure(String impl, java.util.function.Function<Engine, Slots> slotsOf, Runnable afterFree) throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      lines.add("{\"id\": \"k" + i + "\", \"prompt\": \"長い文章を書いてください " + i + "\"}");
    }
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    String out = dir.resolve("gen").toString();
    String gguf = new ModelResolver(TestModels.catalog(), ModelResolver.defaultCacheDir()).resolve("tiny-llama-ja", null, true)
        .gguf().toString();
    // The spec the job builds from engine.threads/parallel/ctx_size below: the registry shares one engine per spec in
    // this JVM, so the test opens it first (pinning the implementation) and the job's task uses the same instance.
    EngineSpec spec = new EngineSpec("llamacpp", gguf, Map.of("threads", "1", "parallel", "2", "ctx_size", "16384"));
    EngineRegistry.closeAll();
    Engine engine;
    System.setProperty("jgen.llama.impl", impl);
    try {
      engine = EngineRegistry.shared(spec);
    } finally {
      System.clearProperty("jgen.llama.impl");
    }
    try {
      Slots slots = slotsOf.apply(engine);
      AtomicReference<Cli> result = new AtomicReference<>();
      Thread job = new Thread(() -> result.set(Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
          "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "run.id=killed", "--set", "engine.threads=1",
          "--set", "engine.parallel=2", "--set", "engine.ctx_size=16384", "--set", "generation.max_new_tokens=16000",
          "--set", "job.chunk_rows=8", "--set", "job.chunks_in_flight=1")), "killed-task-job");
      job.start();
      // Both slots busy with the task's rows: the partition is mid-way, nothing committed.
      await("the job's task to fill both slots", 240, slots::bothBusy);
      long t0 = System.nanoTime();
      TestSpark.get().sparkContext().cancelJobGroup("jgen-killed-attempt-1");
      await("the killed task's slots to be free", BOUND_S, slots::allFree);
      long freedMs = (System.nanoTime() - t0) / 1_000_000;
      if (afterFree != null) {
        afterFree.run();
      }
      job.join(TimeUnit.MINUTES.toMillis(3));
      assertTrue(!job.isAlive(), "the job returned after its chunk was cancelled");
      assertNotEquals(0, result.get().code(), "a cancelled chunk does not finish the run: " + result.get().err());
      // A new request gets a slot at once and runs to its end.
      PreparedPrompt p = new PromptTranslator(TestModels.spec("tiny-llama-ja", true, "reject")).prepare(ChatInput.ofPrompt("短い"), 4);
      long t1 = System.nanoTime();
      Completion c = engine.submit(new CompletionRequest("after", p.text(), p.tokenIds(),
          new SamplingParams(4, 0.7, 0.95, 40, 1.0, 2, List.of()))).get(60, TimeUnit.SECONDS);
      long nextMs = (System.nanoTime() - t1) / 1_000_000;
      assertEquals(4, c.completionTokens());
      System.out.println("llama.cpp (" + impl + "): slots of the killed task free " + freedMs
          + " ms after its job group was cancelled; a new 4-token request then took " + nextMs + " ms; exit code "
          + result.get().code());
    } finally {
      EngineRegistry.closeAll(); // 16k-token slots: not left to the next test
    }
  }
}
