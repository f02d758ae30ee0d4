package dev.jgen.prompt;

import java.io.Serializable;
import java.util.Map;

/**
 * How prompts are made for one model, decided on the driver and shipped to executors (broadcast: the tokenizer can be
 * megabytes). Executors read no files for it.
 *
 * @param templateOrigin where the template came from, recorded with the run ({@code catalog:<file>}, {@code model:<file>})
 * @param tokenizerJson the model's tokenizer.json, or null (then prompts are rendered but not tokenized)
 * @param contextLength tokens the model (or the engine's slot) can hold, prompt and generation together
 * @param templateReadsAttributes the template's output changes with SteerLM attributes (probed, not assumed)
 * @param templateIgnoresSystem the template's output does not change with the system message's content (probed)
 */
public record PromptSpec(
    String modelId,
    String templateSource,
    String templateSha256,
    String templateOrigin,
    Map<String, String> specialTokens,
    byte[] tokenizerJson,
    String tokenizerSha256,
    int contextLength,
    String specialTokensInContent,
    String attributesApplyTo,
    boolean templateReadsAttributes,
    boolean templateIgnoresSystem) implements Serializable {}
