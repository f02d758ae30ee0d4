package dev.jgen.catalog;

import dev.jgen.config.ConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/** The supported models, read from {@code conf/models/*.yaml}. The conf folder is the driver's; executors never read it. */
public final class ModelCatalog {
  private final Path confDir;
  private final Map<String, ModelEntry> entries;

  private ModelCatalog(Path confDir, Map<String, ModelEntry> entries) {
    this.confDir = confDir;
    this.entries = entries;
  }

  public static ModelCatalog load(Path confDir) {
    Path dir = confDir.resolve("models");
    if (!Files.isDirectory(dir)) {
      throw new ConfigException("model catalog not found: " + dir + " (set JGEN_CONF to the conf folder)");
    }
    Map<String, ModelEntry> entries = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        ModelEntry e = parse(f);
        entries.put(e.id(), e);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new ModelCatalog(confDir, entries);
  }

  public Collection<ModelEntry> entries() {
    return entries.values();
  }

  public Path confDir() {
    return confDir;
  }

  public ModelEntry get(String id) {
    ModelEntry e = entries.get(id);
    if (e == null) {
      throw new ConfigException("model.id: unknown model '" + id + "'; the catalog has: " + String.join(", ", entries.keySet()));
    }
    return e;
  }

  @SuppressWarnings("unchecked")
  private static ModelEntry parse(Path f) {
    Map<String, Object> m;
    try {
      m = new Yaml(new SafeConstructor(new LoaderOptions())).load(Files.readString(f));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (RuntimeException e) {
      throw new ConfigException("model catalog: " + f + " is not valid YAML: " + e.getMessage(), e);
    }
    String id = str(m, "id");
    if (id == null) {
      throw new ConfigException("model catalog: " + f + " has no id");
    }
    return new ModelEntry(
        id,
        str(m, "hf_id"),
        str(m, "architecture"),
        str(m, "parameters"),
        str(m, "template"),
        !Boolean.FALSE.equals(m.get("template_verified")),
        m.getOrDefault("attributes", "none").toString(),
        Boolean.TRUE.equals(m.get("system_prompt_ignored")),
        m.get("context_length") instanceof Number n ? n.intValue() : 4096,
        str(m, "system_prompt"),
        new LinkedHashMap<>((Map<String, Object>) m.getOrDefault("generation", Map.of())),
        new LinkedHashMap<>((Map<String, Object>) m.getOrDefault("gpu", Map.of())),
        str(m, "source"),
        new LinkedHashMap<>((Map<String, Object>) m.getOrDefault("shape", Map.of())));
  }

  private static String str(Map<String, Object> m, String key) {
    Object v = m.get(key);
    return v == null ? null : v.toString();
  }
}
