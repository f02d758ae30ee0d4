package dev.jgen.catalog;

import dev.jgen.config.ConfigException;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/** Finds the files of {@code model.id} / {@code model.path} on the driver, and fails with the path when they are not there. */
public final class ModelResolver {
  private final ModelCatalog catalog;
  private final Path cacheDir;

  public ModelResolver(ModelCatalog catalog, Path cacheDir) {
    this.catalog = catalog;
    this.cacheDir = cacheDir;
  }

  /** The cache for generated models: JGEN_CACHE, else ~/.cache/jgen. */
  public static Path defaultCacheDir() {
    String env = System.getenv("JGEN_CACHE");
    String prop = System.getProperty("jgen.cache");
    if (prop != null) {
      return Path.of(prop);
    }
    return env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "jgen");
  }

  /**
   * @param modelId a catalog id or null
   * @param modelPath a model directory or GGUF file, or null
   * @param needWeights the engine needs a GGUF (the embedded engine does; a dry run does not)
   */
  public ResolvedModel resolve(String modelId, String modelPath, boolean needWeights) {
    ModelEntry entry = modelId == null ? null : catalog.get(modelId);
    Path dir = null;
    Path gguf = null;
    if (modelPath != null) {
      Path p = Path.of(modelPath).toAbsolutePath().normalize();
      if (!Files.exists(p)) {
        throw new ConfigException("model.path: no such file or directory: " + p);
      }
      if (Files.isDirectory(p)) {
        dir = p;
        gguf = findGguf(p);
      } else {
        gguf = p;
        dir = p.getParent();
      }
      if (gguf != null) {
        checkGguf(gguf);
      }
    } else if (entry != null && entry.isTiny()) {
      try {
        dir = TinyModelWriter.ensure(cacheDir.resolve("models"), TinyModelSpec.forCatalogSource(entry.source()));
      } catch (IOException e) {
        throw new ConfigException("model.id " + modelId + ": cannot write the tiny model into " + cacheDir + ": " + e.getMessage(), e);
      }
      gguf = findGguf(dir);
    }
    if (needWeights && gguf == null) {
      throw new ConfigException(modelPath != null
          ? "model.path: no .gguf file in " + dir + " (the embedded engine loads GGUF; convert the model with llama.cpp's convert_hf_to_gguf.py)"
          : "model.id " + modelId + ": no local weights; set model.path to the model's GGUF file or directory");
    }
    Path tokenizerJson = dir != null && Files.isRegularFile(dir.resolve("tokenizer.json")) ? dir.resolve("tokenizer.json") : null;
    Path ownConfig = dir != null && Files.isRegularFile(dir.resolve("tokenizer_config.json")) ? dir.resolve("tokenizer_config.json") : null;
    Path tokenizerConfig;
    String origin;
    if (ownConfig != null && hasChatTemplate(ownConfig)) {
      tokenizerConfig = ownConfig;
      origin = "model:" + ownConfig;
    } else if (entry != null && entry.templateFile() != null) {
      tokenizerConfig = catalog.confDir().resolve(entry.templateFile()).normalize();
      origin = "catalog:" + entry.templateFile();
      if (!Files.isRegularFile(tokenizerConfig)) {
        throw new ConfigException("model.id " + modelId + ": template file missing: " + tokenizerConfig);
      }
    } else {
      throw new ConfigException((modelPath != null ? "model.path " + modelPath : "model.id " + modelId)
          + ": no chat template (no tokenizer_config.json with chat_template beside the weights, and no catalog entry); "
          + "set model.id to the catalog entry of this model");
    }
    int context = entry != null ? entry.contextLength() : 4096;
    String name = modelId != null ? entry.id() : (gguf != null ? gguf.getFileName().toString() : dir.getFileName().toString());
    return new ResolvedModel(name, entry, gguf, tokenizerJson, tokenizerConfig, origin, context, gguf == null ? null : fingerprint(gguf));
  }

  /**
   * Whether the model's own tokenizer_config.json carries a template. {@code "chat_template": null} (or an empty list)
   * means none, as in transformers, so the catalog's template applies (issue 12); a malformed file is a config error.
   */
  private static boolean hasChatTemplate(Path tokenizerConfig) {
    try {
      return !TokenizerConfig.read(tokenizerConfig).chatTemplates().isEmpty();
    } catch (java.io.UncheckedIOException e) {
      return false;
    } catch (IllegalArgumentException e) {
      throw new ConfigException("model.path: " + e.getMessage(), e);
    }
  }

  private static Path findGguf(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      List<Path> ggufs = files.filter(f -> f.getFileName().toString().toLowerCase().endsWith(".gguf")).sorted().toList();
      if (ggufs.size() > 1) {
        throw new ConfigException("model.path: " + dir + " holds several GGUF files " + ggufs.stream().map(p -> p.getFileName().toString()).toList()
            + "; point model.path at one of them");
      }
      return ggufs.isEmpty() ? null : ggufs.get(0);
    } catch (IOException e) {
      throw new ConfigException("model.path: cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  private static void checkGguf(Path gguf) {
    byte[] magic = new byte[4];
    try (InputStream in = Files.newInputStream(gguf)) {
      if (in.readNBytes(magic, 0, 4) != 4 || magic[0] != 'G' || magic[1] != 'G' || magic[2] != 'U' || magic[3] != 'F') {
        throw new ConfigException("model.path: " + gguf + " is not a GGUF file (no GGUF magic)");
      }
    } catch (IOException e) {
      throw new ConfigException("model.path: cannot read " + gguf + ": " + e.getMessage(), e);
    }
  }

  static String fingerprint(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(in.readNBytes(1 << 20));
      return "size=" + Files.size(file) + ",sha256_1MiB=" + HexFormat.of().formatHex(md.digest());
    } catch (IOException | NoSuchAlgorithmException e) {
      throw new ConfigException("model.path: cannot read " + file + ": " + e.getMessage(), e);
    }
  }
}
