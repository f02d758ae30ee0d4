package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.djl.FakeDjlServing;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12: no orphaned GPU servers. Executors are child JVMs ({@link LaunchingChild}) killed with SIGKILL, so no
 * shutdown hook runs; their servers are real processes (the fake djl-serving running the stand-in).
 */
class OrphanedServersTest {
  @TempDir Path dir;

  private final List<Process> children = new ArrayList<>();

  private Process child(Path script, Path state, String app, boolean watchdog) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", FakeDjlServing.classPath(),
        LaunchingChild.class.getName(), script.toString(), state.toString(), app, String.valueOf(watchdog))
        .redirectErrorStream(true);
    Process p = pb.start();
    children.add(p);
    return p;
  }

  /** The (watchdog, server) pids the child printed once its servers were ready. */
  private static List<Long> servers(Process child) throws Exception {
    CompletableFuture<List<Long>> found = new CompletableFuture<>();
    StringBuilder seen = new StringBuilder();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          synchronized (seen) {
            seen.append(line).append('\n');
          }
          if (line.startsWith("SERVERS ") && !found.isDone()) {
            List<Long> pids = new ArrayList<>();
            for (String pair : line.substring("SERVERS ".length()).trim().split(" ")) {
              for (String pid : pair.split(":")) {
                pids.add(Long.parseLong(pid));
              }
            }
            found.complete(pids);
          }
        }
      } catch (Exception e) {
        // the child is gone
      }
      found.completeExceptionally(new AssertionError("the child ended without servers:\n" + seen));
    });
    reader.setDaemon(true);
    reader.start();
    return found.get(240, TimeUnit.SECONDS); // a JVM starting a JVM on a loaded 2-core machine
  }

  private static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  @Test
  void serversOfAKilledExecutorAreStoppedByTheNextExecutorAndByTheirOwnWatchdog() throws Exception {
    Path records = dir.resolve("records");
    Path script = FakeDjlServing.write(dir.resolve("bin"), records, DjlLaunchModeTest.tinyModel(), null);
    Path state = dir.resolve("state");
    List<Long> first = new ArrayList<>();
    List<Long> second = new ArrayList<>();
    try {
      // 1. An executor whose servers have no parent watchdog: SIGKILL leaves them running, recorded in the state dir.
      Process c1 = child(script, state, "app-orphans", false);
      first.addAll(servers(c1));
      assertEquals(2, first.size(), "one server: its watchdog and itself " + first);
      c1.destroyForcibly(); // SIGKILL
      assertTrue(c1.waitFor(60, TimeUnit.SECONDS));
      for (long pid : first) {
        assertTrue(alive(pid), "without a watchdog the server " + pid + " outlives its executor (the case to repair)");
      }
      long fakeServers = FakeDjlServing.launches(records).stream().filter(l -> alive(l.pid())).count();
      assertEquals(1, fakeServers);

      // 2. The next executor of the same application on this host stops them before starting its own.
      Process c2 = child(script, state, "app-orphans", true);
      second.addAll(servers(c2));
      for (long pid : first) {
        assertFalse(alive(pid), "process " + pid + " of the killed executor still runs");
      }
      for (FakeDjlServing.Launch l : FakeDjlServing.launches(records)) {
        assertEquals(second.contains(l.pid()), alive(l.pid()), "only the second executor's server runs: " + l.pid());
      }

      // 3. With the parent watchdog: SIGKILL the executor and its server stops by itself.
      c2.destroyForcibly();
      assertTrue(c2.waitFor(60, TimeUnit.SECONDS));
      for (long pid : second) {
        ProcessHandle.of(pid).ifPresent(h -> {
          try {
            h.onExit().get(90, TimeUnit.SECONDS); // the watchdog polls every second, then SIGTERM, SIGKILL after 10 s
          } catch (Exception e) {
            // asserted below
          }
        });
        assertFalse(alive(pid), "process " + pid + " outlived its killed executor");
      }
    } finally {
      children.forEach(Process::destroyForcibly);
      for (long pid : first) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      }
      for (long pid : second) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
  }
}
