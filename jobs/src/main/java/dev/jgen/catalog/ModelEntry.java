package dev.jgen.catalog;

import java.io.Serializable;
import java.util.Map;

/**
 * One model of the catalog ({@code conf/models/<id>.yaml}): where its chat template comes from, what its card
 * recommends, and how to serve it on GPUs.
 *
 * @param templateFile a tokenizer_config.json relative to the conf folder, or null when the weights carry it
 * @param attributes {@code steerlm} when the template reads the nine SteerLM attributes, else {@code none}
 * @param systemPromptIgnored the template prints a fixed text for any system message (llm-jp-3)
 * @param source {@code tiny} for the project's own random tiny model ({@code tiny-stop}: its variant that can emit EOS),
 *     else null
 * @param shape what GPU memory planning needs ({@link GpuPresets}): {@code parameters}, {@code layers}, {@code hidden},
 *     {@code heads}, {@code kv_heads}, {@code head_dim}, {@code vocab}; empty when the catalog gives none
 */
public record ModelEntry(
    String id,
    String hfId,
    String architecture,
    String parameters,
    String templateFile,
    boolean templateVerified,
    String attributes,
    boolean systemPromptIgnored,
    int contextLength,
    String systemPrompt,
    Map<String, Object> generationDefaults,
    Map<String, Object> gpu,
    String source,
    Map<String, Object> shape) implements Serializable {

  public boolean usesSteerLmAttributes() {
    return "steerlm".equals(attributes);
  }

  public boolean isTiny() {
    return "tiny".equals(source) || "tiny-stop".equals(source);
  }
}
