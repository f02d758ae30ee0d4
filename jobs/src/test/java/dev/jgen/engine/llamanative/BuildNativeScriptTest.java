package dev.jgen.engine.llamanative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/build-native's exit codes without a real build: fake cmake / c++ / git / npm first on PATH and a cache holding an
 * already unpacked (empty) llama.cpp source. Exit 3 ("cannot build here": tests fall back to the embedded engine) only
 * for a missing tool; a compile or configure failure is exit 1 with the log named, so bin/test fails on it.
 */
class BuildNativeScriptTest {
  @TempDir Path tmp;
  private Path root;
  private Path fakes;
  private Path srcDir;

  @BeforeEach
  void setUp() throws Exception {
    root = NativeLlamaEngineTest.repoRoot();
    String script = Files.readString(root.resolve("bin/build-native"));
    String version = field(script, "NPM_PACKAGE") + "-" + field(script, "NPM_VERSION");
    Path dir = tmp.resolve("cache/native").resolve(version);
    srcDir = dir.resolve("src");
    Files.createDirectories(srcDir.resolve("include"));
    Files.writeString(srcDir.resolve("include/llama.h"), "");
    // the patches' hash as the script computes it, so it takes this source as unpacked with today's patches
    Files.writeString(srcDir.resolve(".jgen-patches"), run(root, Map.of(), "bash", "-c",
        "cat native/patches/*.patch 2>/dev/null | sha256sum | cut -c1-16").out);
    fakes = Files.createDirectories(tmp.resolve("fakes"));
    fake("cmake", "case \"$1\" in\n"
        + "  --version) echo 'cmake version 3.25.1'; exit 0 ;;\n"
        + "  --build) echo 'jgen-llama-server.cpp:42:1: error: fake compile error' >&2; exit 2 ;;\n"
        + "esac\n"
        + "if [ -n \"$FAKE_CONFIGURE_FAILS\" ]; then echo 'CMake Error: fake configure error' >&2; exit 1; fi\n"
        + "exit 0\n");
    fake("c++", "if [ \"$1\" = --version ]; then echo 'c++ (fake) 12'; exit 0; fi\n"
        + "if [ -n \"$FAKE_SYNTAX_FAILS\" ]; then echo 'jgen-llama-server.cpp:7:3: error: fake syntax error' >&2;"
        + " exit 1; fi\nexit 0\n");
    fake("git", "exit 0\n");
    fake("npm", "exit 0\n");
  }

  @Test
  void aFailingCompileIsExit1WithTheLogNamed() throws Exception {
    Result r = buildNative(Map.of());
    assertEquals(1, r.rc, r.err);
    assertTrue(r.err.contains("fake compile error"), r.err);
    assertTrue(r.err.contains("build.log"), r.err);
  }

  @Test
  void aFailingConfigureIsExit1WithTheLogNamed() throws Exception {
    Result r = buildNative(Map.of("FAKE_CONFIGURE_FAILS", "1"));
    assertEquals(1, r.rc, r.err);
    assertTrue(r.err.contains("fake configure error") && r.err.contains("cmake.log"), r.err);
  }

  @Test
  void aSyntaxErrorInTheServerFailsBeforeCmakeRuns() throws Exception {
    Result r = buildNative(Map.of("FAKE_SYNTAX_FAILS", "1"));
    assertEquals(1, r.rc, r.err);
    assertTrue(r.err.contains("fake syntax error") && r.err.contains("syntax.log"), r.err);
    assertTrue(!Files.exists(srcDir.resolveSibling("cmake.log")), "cmake ran after the syntax check failed");
  }

  /**
   * The real check, with the real compiler: a copy of jgen's native sources with one syntax error, against the llama.cpp
   * source this machine's build unpacked (skipped where there is none), fails bin/build-native with exit 1 and the
   * compiler's message, in about a second: no cmake build is needed to see it.
   */
  @Test
  void aRealSyntaxErrorInTheServerSourceFailsTheBuild() throws Exception {
    Path realSrc = NativeBuild.cacheDir().map(d -> d.resolve("src")).filter(d -> Files.isRegularFile(d.resolve("include/llama.h")))
        .orElse(null);
    org.junit.jupiter.api.Assumptions.assumeTrue(realSrc != null, "no unpacked llama.cpp source on this machine");
    Path home = Files.createDirectories(tmp.resolve("home"));
    Files.createDirectories(home.resolve("bin"));
    Files.copy(root.resolve("bin/build-native"), home.resolve("bin/build-native"));
    Files.setPosixFilePermissions(home.resolve("bin/build-native"), PosixFilePermissions.fromString("rwxr-xr-x"));
    copyTree(root.resolve("native"), home.resolve("native"));
    Path cpp = home.resolve("native/jgen-llama-server.cpp");
    Files.writeString(cpp, Files.readString(cpp).replaceFirst("int main\\(", "int main( this is not C++ "));
    Path cache = tmp.resolve("real-cache/native").resolve(realSrc.getParent().getFileName());
    Files.createDirectories(cache);
    Files.createSymbolicLink(cache.resolve("src"), realSrc);
    Result r = run(home, Map.of("JGEN_CACHE", tmp.resolve("real-cache").toString()), home.resolve("bin/build-native").toString());
    assertEquals(1, r.rc, r.err);
    assertTrue(r.err.contains("syntax.log") && r.err.contains("error"), r.err);
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (var walk = Files.walk(from)) {
      for (Path p : walk.toList()) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t);
        }
      }
    }
  }

  @Test
  void aMissingToolIsExit3() throws Exception {
    // a PATH with only what the script needs before its tool check: no cmake, c++, git, npm
    Path bare = Files.createDirectories(tmp.resolve("bare"));
    for (String tool : new String[] {"bash", "dirname"}) {
      Files.createSymbolicLink(bare.resolve(tool), which(tool));
    }
    Result r = run(root, Map.of("PATH", bare.toString(), "JGEN_CACHE", tmp.resolve("cache").toString()),
        root.resolve("bin/build-native").toString());
    assertEquals(3, r.rc, r.err);
    assertTrue(r.err.contains("is missing"), r.err);
  }

  private Result buildNative(Map<String, String> extra) throws Exception {
    Map<String, String> env = new HashMap<>(extra);
    env.put("PATH", fakes + ":" + System.getenv("PATH"));
    env.put("JGEN_CACHE", tmp.resolve("cache").toString());
    return run(root, env, root.resolve("bin/build-native").toString());
  }

  private void fake(String name, String body) throws IOException {
    Path p = fakes.resolve(name);
    Files.writeString(p, "#!/bin/sh\n" + body);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  private static Path which(String tool) {
    for (String d : System.getenv("PATH").split(":")) {
      Path p = Path.of(d, tool);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    throw new IllegalStateException(tool + " not on PATH");
  }

  private static String field(String script, String name) {
    Matcher m = Pattern.compile("(?m)^" + name + "=(\\S+)$").matcher(script);
    assertTrue(m.find(), name + " not in bin/build-native");
    return m.group(1);
  }

  private record Result(int rc, String out, String err) {}

  private static Result run(Path dir, Map<String, String> env, String... cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
    pb.environment().putAll(env);
    Path err = Files.createTempFile("build-native", ".err");
    try {
      pb.redirectError(err.toFile());
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "bin/build-native did not finish");
      return new Result(p.exitValue(), out, Files.readString(err));
    } finally {
      Files.deleteIfExists(err);
    }
  }
}
