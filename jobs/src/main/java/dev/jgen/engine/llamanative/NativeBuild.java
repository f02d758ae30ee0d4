package dev.jgen.engine.llamanative;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Optional;

/**
 * Where the natively built engine is. {@code bin/build-native} compiles it on this machine, for this CPU, into
 * {@code $JGEN_CACHE/native/<SOURCE_VERSION>/bin/} (JGEN_CACHE defaults to the repository's {@code .cache}).
 */
public final class NativeBuild {
  /** The llama.cpp source version bin/build-native builds (its NPM_PACKAGE-NPM_VERSION; a test keeps them equal). */
  public static final String SOURCE_VERSION = "node-llama-cpp-3.22.1";
  public static final String SERVER = "jgen-llama-server";

  private NativeBuild() {}

  /**
   * The server binary: {@code -Djgen.llama.server} or {@code JGEN_LLAMA_SERVER} when set, else the cached build under
   * {@code JGEN_CACHE} or the first {@code .cache} found from the working directory upwards.
   */
  public static Optional<Path> server() {
    String explicit = System.getProperty("jgen.llama.server", System.getenv("JGEN_LLAMA_SERVER"));
    if (explicit != null && !explicit.isBlank()) {
      Path p = Paths.get(explicit);
      return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
    }
    return cacheDir().map(d -> d.resolve("bin").resolve(SERVER)).filter(Files::isExecutable);
  }

  /** {@code <cache>/native/<SOURCE_VERSION>}, whether built or not. */
  public static Optional<Path> cacheDir() {
    String cache = System.getenv("JGEN_CACHE");
    if (cache != null && !cache.isBlank()) {
      return Optional.of(Paths.get(cache, "native", SOURCE_VERSION));
    }
    for (Path d = Paths.get("").toAbsolutePath(); d != null; d = d.getParent()) {
      Path c = d.resolve(".cache").resolve("native").resolve(SOURCE_VERSION);
      if (Files.isDirectory(c)) {
        return Optional.of(c);
      }
    }
    return Optional.empty();
  }

  /** The llama.cpp commit the cached build was made from ("unknown" when not recorded). */
  public static String llamaCommit() {
    return cacheDir().map(d -> d.resolve("llama.cpp.commit")).filter(Files::isRegularFile).map(p -> {
      try {
        String s = Files.readString(p).trim();
        return s.length() > 12 ? s.substring(0, 12) : s;
      } catch (java.io.IOException e) {
        return "unknown";
      }
    }).orElse("unknown");
  }
}
