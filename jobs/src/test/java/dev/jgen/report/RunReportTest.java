package dev.jgen.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jgen report} of a real run (some rows in error), opened in headless Chromium (Debian's package, which bin/test
 * installs) with no network: no error on the page or its console, every chart drawn as a non-empty SVG, and a
 * screenshot kept in the build output (target/report-screenshot.png).
 */
class RunReportTest {
  @TempDir Path dir;

  @Test
  void theReportOfARunOpensInChromiumWithEveryChartDrawnAndNoErrors() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      lines.add("{\"id\": \"" + (i % 8 == 7 ? "" : "r" + i) + "\", \"prompt\": \"報告の確認 " + i + "\"}");
    }
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    String out = dir.resolve("gen").toString();
    Cli g = Cli.run("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(), "--set", "input.path=" + in,
        "--set", "output.path=" + out, "--set", "run.id=reported", "--set", "generation.max_new_tokens=12");
    assertEquals(0, g.code(), g.err());
    Path html = dir.resolve("report.html");
    Cli r = Cli.run("report", "--output", out, "--to", html.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("report of run reported (24 rows, 8 charts)"), r.out());
    String page = Files.readString(html, StandardCharsets.UTF_8);
    assertTrue(!page.contains("src=\"http") && !page.contains("href=\"http"), "nothing fetched from the network");

    Path profile = Files.createDirectories(dir.resolve("chromium-profile"));
    Path screenshot = Path.of("target/report-screenshot.png").toAbsolutePath();
    List<String> chromium = List.of("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
        "--virtual-time-budget=10000", "--window-size=1100,3400");
    String dom = run(concat(chromium, "--dump-dom", html.toUri().toString()));
    Matcher m = Pattern.compile("<pre id=\"render-status\">(.*?)</pre>", Pattern.DOTALL).matcher(dom);
    assertTrue(m.find(), "the page ran its script: " + dom.substring(0, Math.min(2000, dom.length())));
    JsonNode status = new ObjectMapper().readTree(m.group(1).replace("&quot;", "\""));
    assertEquals(0, status.get("errors").size(), "no error on the page: " + status);
    for (String chart : List.of("rows_tokens", "tokens_per_s", "in_flight", "busy", "latency", "lengths", "finish_reasons", "errors")) {
      assertTrue(status.get("drawn").path(chart).asInt() > 0, chart + " drawn as SVG: " + status);
    }
    assertTrue(dom.contains(">reported<"), "the summary table names the run");
    run(concat(chromium, "--screenshot=" + screenshot, html.toUri().toString()));
    assertTrue(Files.size(screenshot) > 10_000, "a screenshot of the report: " + screenshot);

    Cli missing = Cli.run("report", "--output", out, "--run", "nope", "--to", dir.resolve("x.html").toString());
    assertEquals(1, missing.code(), missing.err());
    assertTrue(missing.err().contains("--run nope") && missing.err().contains("it holds: reported"), missing.err());
  }

  private static List<String> concat(List<String> a, String... b) {
    List<String> l = new ArrayList<>(a);
    l.addAll(List.of(b));
    return l;
  }

  /** Runs Chromium with its output in a file, so a Chromium that never ends fails the wait instead of blocking a read. */
  private static String run(List<String> cmd) throws Exception {
    Path out = Files.createTempFile("chromium", ".out");
    try {
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).redirectOutput(out.toFile()).start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("chromium did not end within 120 s: " + cmd);
      }
      return Files.readString(out, StandardCharsets.UTF_8);
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
