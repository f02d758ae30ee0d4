package dev.jgen.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;

/** Pausing child jobs (SIGSTOP/SIGCONT) and waiting on what a test can observe: files, log lines, table states. */
public final class Signals {
  private Signals() {}

  /** Freezes a process where it is: its threads, heartbeat included, stop until {@link #resume}. */
  public static void pause(Process p) {
    signal(p.pid(), "-STOP");
  }

  public static void resume(Process p) {
    signal(p.pid(), "-CONT");
  }

  public static void pause(ProcessHandle p) {
    signal(p.pid(), "-STOP");
  }

  public static void resume(ProcessHandle p) {
    signal(p.pid(), "-CONT");
  }

  private static void signal(long pid, String sig) {
    try {
      Process k = new ProcessBuilder("kill", sig, Long.toString(pid)).inheritIO().start();
      if (k.waitFor() != 0) {
        throw new IllegalStateException("kill " + sig + " " + pid + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Waits until {@code condition} holds; false when {@code timeoutMs} passed first or {@code whileAlive} died (the
   * timeout is only a bound against a hang: the caller synchronises on the condition, never on the time).
   */
  public static boolean await(long timeoutMs, Process whileAlive, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (System.currentTimeMillis() < deadline) {
      if (condition.getAsBoolean()) {
        return true;
      }
      if (whileAlive != null && !whileAlive.isAlive()) {
        return condition.getAsBoolean();
      }
      Thread.sleep(50);
    }
    return condition.getAsBoolean();
  }

  /** The Delta commit file of {@code version} in the table at {@code table}. */
  public static Path commit(String table, long version) {
    return Path.of(table, "_delta_log", String.format("%020d.json", version));
  }

  /** How many lines of a log file contain {@code text} (0 when the file does not exist yet). */
  public static long linesWith(Path log, String text) {
    try {
      return Files.exists(log) ? Files.readAllLines(log).stream().filter(l -> l.contains(text)).count() : 0;
    } catch (IOException e) {
      return 0; // being written: the next poll reads it
    }
  }

  public static String read(Path log) {
    try {
      return Files.exists(log) ? Files.readString(log) : "(no " + log + ")";
    } catch (IOException e) {
      return "(unreadable " + log + ": " + e + ")";
    }
  }
}
