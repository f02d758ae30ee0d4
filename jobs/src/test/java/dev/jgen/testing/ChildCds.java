package dev.jgen.testing;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * Class data sharing for the tests' child JVMs ({@link ChildJob}), as bin/jgen does for users: a cold child spends
 * seconds of CPU loading and verifying Spark's, Delta's and jgen's classes, and the suite starts a few dozen of them.
 * The first child that starts records the classes it loads into a dynamic AppCDS archive
 * ({@code -XX:ArchiveClassesAtExit}, written when it exits); later children map it ({@code -XX:SharedArchiveFile}):
 * about a third less CPU for a cold {@code generate}. The children then run exactly the same classes, only loaded
 * from the archive. CDS maps classes from jars only, so the children's class path has target/classes and
 * target/test-classes as jars (made once per build, named by their contents). A child killed before it exits writes
 * no archive: the next child records it instead. Several test JVMs (surefire forks) share target/child-cds: a file
 * lock makes the jars once, and one JVM at a time records the archive. {@code -Djgen.test.cds=false} turns it off (the
 * class folders on the class path, as before).
 */
final class ChildCds {
  private static final Path DIR = Path.of("target", "child-cds").toAbsolutePath();
  /** A claim older than this is a test JVM that died while its child recorded the archive. */
  private static final long CLAIM_STALE_MS = 20 * 60_000L;

  private static String classPath;
  private static boolean recording;

  private ChildCds() {}

  /** What a child gets: its class path and the JVM flags for the archive; {@link #started} once it runs. */
  record Plan(String classPath, List<String> flags, Path recordingTo) {}

  static boolean enabled() {
    return !"false".equals(System.getProperty("jgen.test.cds"));
  }

  static synchronized Plan plan(Path target) throws IOException {
    String deps = Files.readString(target.resolve("classpath.txt")).trim();
    if (!enabled()) {
      return new Plan(target.resolve("classes").toAbsolutePath() + File.pathSeparator
          + target.resolve("test-classes").toAbsolutePath() + File.pathSeparator + deps, List.of(), null);
    }
    if (classPath == null) {
      Files.createDirectories(DIR);
      try (FileChannel ch = FileChannel.open(DIR.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock ignored = ch.lock()) {
        Path classes = jarOf(target.resolve("classes"), "classes");
        Path tests = jarOf(target.resolve("test-classes"), "test-classes");
        classPath = classes + File.pathSeparator + tests + File.pathSeparator + deps;
      }
    }
    String key = hash(List.of(System.getProperty("java.home"), System.getProperty("java.vm.version"), classPath)).substring(0, 16);
    Path archive = DIR.resolve("child-" + key + ".jsa");
    // JDK 17 logs a mismatch or a class it cannot archive as warnings on stdout, which tests read: off.
    List<String> quiet = List.of("-Xlog:cds*=off");
    if (Files.isRegularFile(archive)) {
      List<String> flags = new ArrayList<>(List.of("-XX:SharedArchiveFile=" + archive));
      flags.addAll(quiet);
      return new Plan(classPath, flags, null);
    }
    if (recording || !claim(DIR.resolve("child-" + key + ".claim"))) {
      return new Plan(classPath, List.of(), null);
    }
    recording = true;
    Path tmp = DIR.resolve("child-" + key + ".jsa." + ProcessHandle.current().pid() + ".tmp");
    List<String> flags = new ArrayList<>(List.of("-XX:ArchiveClassesAtExit=" + tmp));
    flags.addAll(quiet);
    return new Plan(classPath, flags, tmp);
  }

  /**
   * Once the recording child exits: an archive written whole (the child exited by itself, not by a signal) is moved
   * into place; otherwise the next child records it.
   */
  static void started(Plan plan, Process child) {
    if (plan.recordingTo() == null) {
      return;
    }
    Path tmp = plan.recordingTo();
    String name = tmp.getFileName().toString();
    Path archive = tmp.resolveSibling(name.substring(0, name.indexOf(".jsa.") + ".jsa".length()));
    Path claim = tmp.resolveSibling(name.substring(0, name.indexOf(".jsa.")) + ".claim");
    child.onExit().thenRun(() -> {
      try {
        if (child.exitValue() < 128 && Files.isRegularFile(tmp) && Files.size(tmp) > 0) {
          Files.move(tmp, archive, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
          // Archives of earlier builds (other class paths): 200 MB each.
          try (Stream<Path> old = Files.list(DIR)) {
            for (Path p : old.filter(p -> p.getFileName().toString().matches("child-[0-9a-f]{16}\\.(jsa|claim)")
                && !p.equals(archive) && !p.equals(claim)).toList()) {
              Files.deleteIfExists(p);
            }
          }
        } else {
          Files.deleteIfExists(tmp);
          Files.deleteIfExists(claim);
        }
      } catch (IOException e) {
        // no archive: children go on without one
      } finally {
        synchronized (ChildCds.class) {
          recording = false;
        }
      }
    });
  }

  /**
   * Takes the right to record the archive, unless another live test JVM holds it (the claim names its pid; a claim of a
   * JVM that is gone, or older than 20 min, is taken over).
   */
  private static boolean claim(Path claim) {
    String me = Long.toString(ProcessHandle.current().pid());
    try {
      Files.writeString(claim, me, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      return true;
    } catch (java.nio.file.FileAlreadyExistsException e) {
      try {
        String holder = Files.readString(claim).strip();
        boolean alive = !holder.isEmpty() && ProcessHandle.of(Long.parseLong(holder)).map(ProcessHandle::isAlive).orElse(false);
        if (!alive || System.currentTimeMillis() - Files.getLastModifiedTime(claim).toMillis() > CLAIM_STALE_MS) {
          Files.writeString(claim, me);
          return true;
        }
      } catch (IOException | NumberFormatException ignored) {
        // gone or half-written meanwhile: the next child asks again
      }
      return false;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * A jar of {@code dir}, named by the names, sizes and times of its files: made once while they stay the same, so an
   * archive recorded against it stays valid (CDS checks each jar's size and time). Older jars of that name are removed.
   */
  private static Path jarOf(Path dir, String name) throws IOException {
    List<Path> files;
    try (Stream<Path> walk = Files.walk(dir)) {
      files = walk.filter(p -> !p.equals(dir)).sorted().toList();
    }
    List<String> parts = new ArrayList<>();
    for (Path f : files) {
      parts.add(dir.relativize(f) + " " + (Files.isDirectory(f) ? "d" : Files.size(f) + " " + Files.getLastModifiedTime(f).toMillis()));
    }
    Path jar = DIR.resolve(name + "-" + hash(parts).substring(0, 16) + ".jar");
    if (Files.isRegularFile(jar)) {
      return jar;
    }
    try (Stream<Path> old = Files.list(DIR)) {
      for (Path p : old.filter(p -> p.getFileName().toString().matches(java.util.regex.Pattern.quote(name) + "-[0-9a-f]{16}\\.jar")).toList()) {
        Files.deleteIfExists(p);
      }
    }
    Path tmp = DIR.resolve(jar.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    try (OutputStream os = Files.newOutputStream(tmp); JarOutputStream out = new JarOutputStream(os)) {
      out.setLevel(java.util.zip.Deflater.NO_COMPRESSION);
      for (Path f : files) {
        String entry = dir.relativize(f).toString().replace(File.separatorChar, '/');
        if (Files.isDirectory(f)) {
          out.putNextEntry(new JarEntry(entry + "/"));
        } else {
          JarEntry e = new JarEntry(entry);
          e.setTime(Files.getLastModifiedTime(f).toMillis());
          out.putNextEntry(e);
          Files.copy(f, out);
        }
        out.closeEntry();
      }
    }
    Files.move(tmp, jar, StandardCopyOption.ATOMIC_MOVE);
    return jar;
  }

  private static String hash(List<String> parts) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (String p : parts) {
        md.update(p.getBytes(StandardCharsets.UTF_8));
        md.update((byte) '\n');
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
