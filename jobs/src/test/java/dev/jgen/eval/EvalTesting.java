package dev.jgen.eval;

import dev.jgen.catalog.ModelResolver;
import dev.jgen.config.ConfigLoader;
import dev.jgen.config.JobConfig;
import dev.jgen.spark.GenerateJob;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;

/** Jobs on the tiny model's weights with any catalog model's template, for the evaluation-mode tests. */
final class EvalTesting {
  private EvalTesting() {}

  /**
   * The tiny model's GGUF and tokenizer.json without a tokenizer_config.json: with {@code model.id} set to a catalog
   * model, its template comes from the catalog. One folder for every template, so one engine serves all the tests.
   */
  static synchronized Path weights() {
    try {
      Path tiny = TestModels.tinyDir();
      Path dir = ModelResolver.defaultCacheDir().resolve("eval-tiny-weights");
      Files.createDirectories(dir);
      for (String f : new String[] {"model.gguf", "tokenizer.json"}) {
        Path target = dir.resolve(f);
        if (!Files.exists(target) || Files.size(target) != Files.size(tiny.resolve(f))) {
          Path tmp = dir.resolve("." + f + "." + ProcessHandle.current().pid() + "-" + java.util.UUID.randomUUID() + ".tmp");
          Files.copy(tiny.resolve(f), tmp, StandardCopyOption.REPLACE_EXISTING);
          Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
      }
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Settings every test job shares: small, greedy unless a test says otherwise. */
  static Map<String, Object> settings(String modelId, Path input, Path output) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("input.path", input.toString());
    m.put("output.path", output.toString());
    m.put("model.id", modelId);
    m.put("model.path", weights().toString());
    m.put("engine.kind", "llamacpp");
    m.put("engine.parallel", 2);
    m.put("engine.threads", 2);
    m.put("engine.ctx_size", 1024);
    m.put("generation.max_new_tokens", 8);
    m.put("generation.seed", 7);
    m.put("job.partitions", 2);
    return m;
  }

  static GenerateJob job(Map<String, Object> settings) {
    JobConfig config = ConfigLoader.fromMap(settings);
    return GenerateJob.prepare(config, TestFiles.conf());
  }
}
