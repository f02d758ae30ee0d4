package dev.jgen.catalog;

import java.nio.file.Path;

/**
 * A model ready for a job: the catalog entry (if any) and the files found for it, checked on the driver.
 *
 * @param entry the catalog entry, or null for a bare {@code model.path}
 * @param gguf the weights for the embedded engine, or null when none were found (dry runs, GPU serving)
 * @param tokenizerJson the Hugging Face tokenizer, or null
 * @param tokenizerConfig the tokenizer_config.json whose chat template is used
 * @param templateOrigin {@code model:<file>} when the weights' own config won over the catalog, else {@code catalog:<file>}
 * @param fingerprint identifies the weights without reading gigabytes: size and SHA-256 of the first MiB
 */
public record ResolvedModel(
    String modelId,
    ModelEntry entry,
    Path gguf,
    Path tokenizerJson,
    Path tokenizerConfig,
    String templateOrigin,
    int contextLength,
    String fingerprint) {}
