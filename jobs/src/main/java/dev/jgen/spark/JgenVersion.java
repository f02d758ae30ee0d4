package dev.jgen.spark;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The build's version and, when the launcher knows it, the git revision: recorded with every commit. */
public final class JgenVersion {
  private static final Properties PROPS = new Properties();

  static {
    try (InputStream in = JgenVersion.class.getResourceAsStream("/dev/jgen/version.properties")) {
      if (in != null) {
        PROPS.load(in);
      }
    } catch (IOException ignored) {
      // unknown version
    }
  }

  private JgenVersion() {}

  public static String version() {
    return PROPS.getProperty("version", "unknown");
  }

  public static String gitRevision() {
    String rev = System.getProperty("jgen.git_revision", System.getenv("JGEN_GIT_REVISION"));
    return rev == null || rev.isBlank() ? null : rev;
  }
}
