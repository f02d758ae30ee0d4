package dev.jgen.engine.llamanative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.SamplingParams;
import dev.jgen.prompt.HfTokenizer;
import dev.jgen.testing.TestModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The native server's prefix cache (engine.prefix_cache, issue 28) on the tiny model: every row's greedy tokens are
 * the same with the cache on and off, and each row's cached_tokens is the number of leading prompt tokens it shares
 * with a sequence already in the cache: 0 for the first row of a fresh engine, the shared prefix's length for every
 * later row of its group (rows sent together included: they wait for the first one's prefix rather than decode it
 * again), and never the whole prompt (its last token is decoded for the logits).
 *
 * <p>Prompts are token ids of a shared system text (a common header, then a group's rules) and a user text; the
 * expected numbers are computed from those ids, not assumed from the text.
 */
class NativePrefixCacheTest {
  private static final int MAX_NEW = 8;
  /** Small decode batches, so that a prefix of a few hundred characters spans several of them. */
  private static final int BATCH = 32;
  private static final String HEADER = "### System:\n";
  private static final List<String> USERS = List.of("Apples and pears?", "Bridges over rivers?", "Clouds at dusk?",
      "Dogs that swim?", "Eels in the sea?", "Fog on hills?", "Gates of old towns?", "Hills in spring?");
  private static Path gguf;
  private static HfTokenizer tokenizer;

  @BeforeAll
  static void build() throws Exception {
    Path root = NativeLlamaEngineTest.repoRoot();
    Process p = new ProcessBuilder(root.resolve("bin/build-native").toString(), "--print")
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertTrue(p.waitFor(15, TimeUnit.MINUTES), "bin/build-native did not finish");
    Assumptions.assumeTrue(p.exitValue() != 3, "no native build possible on this machine");
    assertEquals(0, p.exitValue(), "bin/build-native failed");
    assertTrue(Files.isExecutable(Path.of(out)), out);
    Path dir = TestModels.tinyDir();
    gguf = dir.resolve("model.gguf");
    byte[] tj = Files.readAllBytes(dir.resolve("tokenizer.json"));
    tokenizer = HfTokenizer.shared("prefix-cache-test-" + tj.length, tj);
  }

  static NativeLlamaEngine open(boolean prefixCache, Map<String, String> extra) {
    Map<String, String> o = new TreeMap<>(Map.of("threads", "1", "parallel", "4", "ctx_size", "2048",
        "batch", String.valueOf(BATCH), "prefix_cache", String.valueOf(prefixCache)));
    o.putAll(extra);
    NativeLlamaEngine e = (NativeLlamaEngine) new NativeLlamaEngineProvider().open(new EngineSpec("llamacpp", gguf.toString(), o));
    // READY echoes the flag: the server under test is this checkout's build, and the option reached it.
    assertEquals(prefixCache ? "1" : "0", e.server().ready().get("prefix_cache"), e.server().ready().toString());
    return e;
  }

  /** A group's system text: the common header, then its rules repeated to the length asked (in characters). */
  static String system(String rules, int chars) {
    StringBuilder sb = new StringBuilder(HEADER);
    while (sb.length() < chars) {
      sb.append(rules).append(' ');
    }
    return sb.append("\n### User:\n").toString();
  }

  static int[] ids(String text) {
    return tokenizer.encode(text);
  }

  static int lcp(int[] a, int[] b) {
    int i = 0;
    while (i < a.length && i < b.length && a[i] == b[i]) {
      i++;
    }
    return i;
  }

  static SamplingParams greedy() {
    return new SamplingParams(MAX_NEW, 0.0, 1.0, 0, 1.0, 0, List.of());
  }

  /** Sends every prompt at once and waits for all the replies, in the prompts' order. */
  static List<LlamaServerProcess.Reply> all(NativeLlamaEngine e, List<int[]> prompts) throws Exception {
    List<CompletableFuture<LlamaServerProcess.Reply>> fs = new ArrayList<>();
    for (int[] p : prompts) {
      fs.add(e.server().generate(p, greedy()));
    }
    List<LlamaServerProcess.Reply> out = new ArrayList<>();
    for (CompletableFuture<LlamaServerProcess.Reply> f : fs) {
      out.add(f.get(120, TimeUnit.SECONDS));
    }
    return out;
  }

  /** The prompts of one group: its system text followed by each user text. */
  static List<int[]> group(String system, int rows) {
    List<int[]> g = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      g.add(ids(system + USERS.get(i)));
    }
    return g;
  }

  /** The length every pair of the group shares (the test's premise: the user texts differ from their first token). */
  static int sharedPrefix(List<int[]> g) {
    int l = lcp(g.get(0), g.get(1));
    for (int i = 0; i < g.size(); i++) {
      for (int j = i + 1; j < g.size(); j++) {
        assertEquals(l, lcp(g.get(i), g.get(j)), "rows " + i + " and " + j + " share a different prefix");
      }
    }
    return l;
  }

  static void assertSameTokens(List<LlamaServerProcess.Reply> on, List<LlamaServerProcess.Reply> off) {
    assertEquals(off.size(), on.size());
    for (int i = 0; i < on.size(); i++) {
      assertEquals(Arrays.toString(off.get(i).tokenIds()), Arrays.toString(on.get(i).tokenIds()), "row " + i);
      assertEquals(off.get(i).text(), on.get(i).text(), "row " + i);
      assertEquals(0, off.get(i).cachedTokens(), "the cache is off: nothing is reused (row " + i + ")");
    }
  }

  static List<Integer> cached(List<LlamaServerProcess.Reply> rs) {
    return rs.stream().map(LlamaServerProcess.Reply::cachedTokens).toList();
  }

  /** Exactly one row of the list has `first`, every other row `rest`. */
  static void assertOneThenRest(List<Integer> got, int first, int rest) {
    System.out.println("prefix cache: cached_tokens per row " + got + " (want one " + first + ", the others " + rest + ")");
    List<Integer> sorted = new ArrayList<>(got);
    sorted.sort(first <= rest ? null : java.util.Comparator.reverseOrder());
    List<Integer> want = new ArrayList<>();
    want.add(first);
    for (int i = 1; i < got.size(); i++) {
      want.add(rest);
    }
    assertEquals(want, sorted, "cached_tokens per row: " + got);
  }

  @Test
  void rowsSharingOnePrefixReuseItAndGenerateTheSameTokens() throws Exception {
    List<int[]> rows = group(system("Answer in one short sentence.", 60), 8);
    int shared = sharedPrefix(rows);
    assertTrue(shared > HEADER.length() / 4, "a real shared prefix: " + shared);
    try (NativeLlamaEngine on = open(true, Map.of()); NativeLlamaEngine off = open(false, Map.of())) {
      List<LlamaServerProcess.Reply> a = all(on, rows);
      assertSameTokens(a, all(off, rows));
      // 8 rows on 4 slots, all sent at once: the first decodes the prefix, the 7 others copy it.
      assertOneThenRest(cached(a), 0, shared);
      // Through the Engine interface the count reaches the row's Completion (and so the table's cached_tokens).
      Completion c = on.submit(new CompletionRequest("r", "", rows.get(2), greedy())).get(120, TimeUnit.SECONDS);
      assertEquals(rows.get(2).length - 1, c.cachedTokens(), "the same prompt again: all but its last token");
      assertEquals(0, off.submit(new CompletionRequest("r", "", rows.get(2), greedy())).get(120, TimeUnit.SECONDS).cachedTokens());
      // The engine's own tally covers the requests that went through it (the eight above went to its server directly).
      assertEquals((double) (rows.get(2).length - 1), on.serverMetrics().get("cached_tokens"));
    }
  }

  @Test
  void mixedPrefixesEachReuseTheirOwn() throws Exception {
    List<int[]> a = group(system("Answer in one short sentence.", 80), 4);
    List<int[]> b = group(system("Reply with a list of three words.", 80), 4);
    int sharedA = sharedPrefix(a);
    int sharedB = sharedPrefix(b);
    // What the groups share with each other: the header (and whatever tokens follow it alike).
    int across = lcp(a.get(0), b.get(0));
    assertTrue(across > 0 && across < Math.min(sharedA, sharedB), "across " + across + ", A " + sharedA + ", B " + sharedB);
    List<int[]> rows = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      rows.add(a.get(i));
      rows.add(b.get(i));
    }
    try (NativeLlamaEngine on = open(true, Map.of()); NativeLlamaEngine off = open(false, Map.of())) {
      List<LlamaServerProcess.Reply> got = all(on, rows);
      assertSameTokens(got, all(off, rows));
      List<Integer> c = cached(got);
      List<Integer> ca = List.of(c.get(0), c.get(2), c.get(4), c.get(6));
      List<Integer> cb = List.of(c.get(1), c.get(3), c.get(5), c.get(7));
      // A's first row finds an empty cache; B's first row finds only the header it shares with A's rows.
      assertOneThenRest(ca, 0, sharedA);
      assertOneThenRest(cb, across, sharedB);
    }
  }

  @Test
  void aPrefixLongerThanSeveralBatchesIsReusedWhole() throws Exception {
    List<int[]> rows = group(system("Think step by step, then give the answer alone on its last line.", 500), 4);
    int shared = sharedPrefix(rows);
    assertTrue(shared > 3 * BATCH, "the prefix spans more than three decode batches: " + shared);
    try (NativeLlamaEngine on = open(true, Map.of()); NativeLlamaEngine off = open(false, Map.of())) {
      List<LlamaServerProcess.Reply> got = all(on, rows);
      assertSameTokens(got, all(off, rows));
      assertOneThenRest(cached(got), 0, shared);
    }
  }

  @Test
  void identicalPromptsReuseAllButTheLastToken() throws Exception {
    // generation.n samples of one row: the whole prompt is in the cache, and its last token is decoded again for the
    // logits the first new token is sampled from.
    int[] prompt = ids(system("Answer in one short sentence.", 60) + USERS.get(0));
    List<int[]> rows = List.of(prompt, prompt, prompt);
    try (NativeLlamaEngine on = open(true, Map.of()); NativeLlamaEngine off = open(false, Map.of())) {
      List<LlamaServerProcess.Reply> got = all(on, rows);
      assertSameTokens(got, all(off, rows));
      assertOneThenRest(cached(got), 0, prompt.length - 1);
    }
  }

  /**
   * A prefix pushed out of the cache by another group's rows is decoded again when its group comes back, and then
   * reused again; outputs stay the same throughout. Two ways out: KV cells (a cache too small for both groups) and
   * sequence ids (one id kept for cached sequences beyond the running ones).
   */
  @Test
  void anEvictedPrefixIsDecodedAgainAndThenReusedAgain() throws Exception {
    List<int[]> a = group(system("Answer in one short sentence.", 300), 6);
    List<int[]> b = group(system("Reply with a list of three words.", 300), 6);
    int sharedA = sharedPrefix(a);
    int longest = a.stream().mapToInt(x -> x.length).max().orElseThrow();
    int longestB = b.stream().mapToInt(x -> x.length).max().orElseThrow();
    // Room for one group's rows, not for a second group's prompt beside the first group's prefix.
    int cells = Math.max(longest, longestB) + MAX_NEW + 6 * (longest - sharedA + MAX_NEW);
    assertTrue(cells < sharedA + longestB + MAX_NEW, "the cache cannot hold A's prefix and a B row: " + cells);
    for (Map<String, String> tight : List.of(Map.of("ctx_size", String.valueOf(cells)), Map.of("cache_seqs", "1"))) {
      try (NativeLlamaEngine on = open(true, tight); NativeLlamaEngine off = open(false, tight)) {
        List<List<LlamaServerProcess.Reply>> phases = new ArrayList<>();
        for (List<int[]> g : List.of(a.subList(0, 3), b, a.subList(3, 6))) {
          List<LlamaServerProcess.Reply> got = all(on, g);
          assertSameTokens(got, all(off, g));
          phases.add(got);
        }
        assertOneThenRest(cached(phases.get(0)), 0, sharedA);
        List<Integer> back = cached(phases.get(2));
        // A's prefix was gone when A came back: its first row there decoded it again (at most the header was
        // still cached), and the two after it copied it from that row.
        assertTrue(back.stream().filter(n -> n < sharedA).count() == 1, tight + ": " + back);
        assertEquals(2, back.stream().filter(n -> n == sharedA).count(), tight + ": " + back);
      }
    }
  }

  @Test
  void theConfigKeyReachesTheEngineSpec(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    Path in = Files.writeString(tmp.resolve("in.jsonl"), "{\"id\": \"a\", \"prompt\": \"x\"}\n");
    for (String v : List.of("true", "false")) {
      java.util.Map<String, Object> settings = new java.util.LinkedHashMap<>();
      settings.put("input.path", in.toString());
      settings.put("model.path", gguf.getParent().toString());
      settings.put("output.path", tmp.resolve("out").toString());
      settings.put("engine.prefix_cache", v);
      var job = dev.jgen.spark.GenerateJob.prepare(dev.jgen.config.ConfigLoader.fromMap(settings), dev.jgen.testing.TestFiles.conf());
      // Said only when off (the default spec stays what it was, so engines opened by older specs are shared).
      assertEquals(v.equals("false") ? "false" : null, job.engine().options().get("prefix_cache"), job.engine().toString());
    }
  }

  @Test
  void theOptionReachesTheServerCommand() {
    EngineSpec off = new EngineSpec("llamacpp", "m.gguf", Map.of("prefix_cache", "false", "threads", "1", "parallel", "2"));
    EngineSpec dflt = new EngineSpec("llamacpp", "m.gguf", Map.of("threads", "1", "parallel", "2"));
    String offCmd = String.join(" ", NativeLlamaEngineProvider.command(Path.of("srv"), off));
    String onCmd = String.join(" ", NativeLlamaEngineProvider.command(Path.of("srv"), dflt));
    assertTrue(offCmd.contains("--prefix-cache 0"), offCmd);
    assertTrue(onCmd.contains("--prefix-cache 1"), onCmd);
  }
}
