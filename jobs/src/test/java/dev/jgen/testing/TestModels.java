package dev.jgen.testing;

import dev.jgen.catalog.ModelCatalog;
import dev.jgen.catalog.ModelResolver;
import dev.jgen.catalog.ResolvedModel;
import dev.jgen.model.TinyModelSpec;
import dev.jgen.model.TinyModelWriter;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.prompt.PromptSpecs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The tiny model, written once per test run into the test cache, and prompt specs of catalog models. */
public final class TestModels {
  private TestModels() {}

  public static Path tinyDir() {
    try {
      return TinyModelWriter.ensure(ModelResolver.defaultCacheDir().resolve("models"), TinyModelSpec.tiny());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static Path tinyTokenizer() {
    return tinyDir().resolve("tokenizer.json");
  }

  public static ModelCatalog catalog() {
    return ModelCatalog.load(TestFiles.conf());
  }

  /**
   * A catalog model's prompt spec. The real tokenizers cannot be downloaded here, so the tiny model's tokenizer.json
   * (same special tokens: <unk> 0, <s> 1, </s> 2) stands in where one is asked for.
   */
  public static PromptSpec spec(String modelId, boolean withTokenizer, String guard) {
    ResolvedModel m = new ModelResolver(catalog(), ModelResolver.defaultCacheDir()).resolve(modelId, null, false);
    if (withTokenizer && m.tokenizerJson() == null) {
      m = new ResolvedModel(m.modelId(), m.entry(), m.gguf(), tinyTokenizer(), m.tokenizerConfig(), m.templateOrigin(),
          m.contextLength(), m.fingerprint());
    }
    if (!withTokenizer) {
      m = new ResolvedModel(m.modelId(), m.entry(), m.gguf(), null, m.tokenizerConfig(), m.templateOrigin(), m.contextLength(),
          m.fingerprint());
    }
    return PromptSpecs.forModel(m, m.contextLength(), guard, "last_user");
  }

  public static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
