package dev.jgen.engine.serving;

import dev.jgen.engine.EngineSpec;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * An executor stand-in in a JVM of its own, for tests that SIGKILL it: opens a DJL Serving engine in launch mode with a
 * fake server command on GPU 0, prints {@code SERVERS <watchdog pid>:<server pid> ...} once the servers are ready, and
 * waits to be killed. Arguments: command, state dir, application id, parent watchdog (true | false).
 */
public final class LaunchingChild {
  private LaunchingChild() {}

  public static void main(String[] args) throws Exception {
    EngineSpec spec = new EngineSpec("djl-serving", "tiny-llama-ja", Map.of("mode", "launch", "command", args[0],
        "state_dir", args[1], "app_id", args[2], "parent_watchdog", args[3], "ready_timeout_s", "180",
        "max_rolling_batch_size", "2", "base_port", "0"));
    ServingEngine e = new ServingEngine(spec, ServerKind.DJL, List.of("0"));
    System.out.println("SERVERS " + e.launcher().servers().stream().map(s -> s.pid() + ":" + s.serverPid())
        .collect(Collectors.joining(" ")));
    System.out.flush();
    Thread.currentThread().join();
  }
}
