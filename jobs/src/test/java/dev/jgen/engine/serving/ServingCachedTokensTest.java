package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.SamplingParams;
import dev.jgen.prompt.HfTokenizer;
import dev.jgen.testing.TestModels;
import dev.jgen.testing.djl.DjlServingStandIn;
import java.nio.file.Files;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Issue 28, lineage: a serving engine's row carries the server's own cached_tokens
 * ({@code usage.prompt_tokens_details.cached_tokens}) where the server reports it, and null where it does not (a
 * missing count is not zero).
 */
class ServingCachedTokensTest {
  private static final SamplingParams GREEDY = new SamplingParams(6, 0.0, 1.0, 0, 1.0, 1, List.of());

  @Test
  void theServersCachedTokensReachTheRowAndAbsentIsNull() throws Exception {
    // Behind the stand-in's OpenAI endpoint, the tiny model on jgen's llama.cpp engine with its prefix cache: the count
    // it reports is that engine's own, the prompt prefix two rows share (the server tokenizes, BOS included).
    byte[] tj = Files.readAllBytes(TestModels.tinyTokenizer());
    HfTokenizer tok = HfTokenizer.shared("serving-cached-" + tj.length, tj);
    // Unique to this test: no row an earlier test left in a shared engine's cache shares more than the BOS.
    String system = "<s>" + UUID.randomUUID() + " You answer in one sentence, politely, and never in lists. ";
    String first = system + "Apples?";
    String second = system + "Bridges?";
    int shared = lcp(tok.encode(first), tok.encode(second));
    assertTrue(shared > 20, "the rows share their system text: " + shared);
    for (boolean report : List.of(true, false)) {
      DjlServingStandIn.Options o = new DjlServingStandIn.Options();
      o.batch = 4;
      o.stepMillis = 2;
      o.reportCachedTokens = report;
      try (DjlServingStandIn s = DjlServingStandIn.start(o)) {
        ServingEngine e = new ServingEngine(ServingEngineTest.trtllm(s.url().toString()), ServerKind.TRTLLM);
        try {
          Completion a = e.submit(new CompletionRequest("a", first, null, GREEDY)).get(120, TimeUnit.SECONDS);
          Completion b = e.submit(new CompletionRequest("b", second, null, GREEDY)).get(120, TimeUnit.SECONDS);
          if (!report) {
            assertNull(a.cachedTokens(), "the server said nothing: null, not 0");
            assertNull(b.cachedTokens());
            continue;
          }
          Assumptions.assumeTrue(a.cachedTokens() != null, "the stand-in's engine is the embedded jar (no native build)");
          // The first row's prompt starts with a fresh UUID: an earlier test's row in the shared engine may share its BOS
          // and a first piece or two (the fast suite saw 2), never the system text.
          assertTrue(a.cachedTokens() < shared, "the first row found no copy of the system text: " + a.cachedTokens());
          assertEquals(shared, b.cachedTokens(), "the second row reused the prefix it shares with the first");
        } finally {
          e.close();
        }
      }
    }
  }

  @Test
  void theWiresReadTheFieldOrNothing() throws Exception {
    CompletionRequest r = new CompletionRequest("x", "p", null, GREEDY);
    String with = "{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
        + "\"completion_tokens\":1,\"prompt_tokens_details\":{\"cached_tokens\":7}}}";
    assertEquals(7, new OpenAiCompletionsWire().parse(with, r, 1).cachedTokens());
    String without = "{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
        + "\"completion_tokens\":1}}";
    assertNull(new OpenAiCompletionsWire().parse(without, r, 1).cachedTokens());
    String nullDetails = "{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
        + "\"completion_tokens\":1,\"prompt_tokens_details\":null}}";
    assertNull(new OpenAiCompletionsWire().parse(nullDetails, r, 1).cachedTokens(), "vLLM's default: details null");
    String djl = "{\"generated_text\":\"abc\",\"details\":{\"finish_reason\":\"length\",\"generated_tokens\":8}}";
    assertNull(new DjlInvocationsWire().parse(djl, r, 1).cachedTokens(), "DJL's /invocations has no such count");
  }

  static int lcp(int[] a, int[] b) {
    int i = 0;
    while (i < a.length && i < b.length && a[i] == b[i]) {
      i++;
    }
    return i;
  }
}
