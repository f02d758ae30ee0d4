package dev.jgen.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Small file helpers for tests: JSONL inputs and the conf folder of the repository. */
public final class TestFiles {
  private TestFiles() {}

  public static Path conf() {
    String env = System.getenv("JGEN_CONF");
    if (env != null) {
      return Path.of(env);
    }
    return Files.isDirectory(Path.of("../conf")) ? Path.of("../conf") : Path.of("conf");
  }

  public static Path jsonl(Path dir, String name, List<String> lines) {
    try {
      Files.createDirectories(dir);
      Path f = dir.resolve(name);
      Files.write(f, lines, StandardCharsets.UTF_8);
      return f;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
