package dev.jgen.engine;

/**
 * A LoRA adapter a request is generated with (issue 31): one of the job's {@code model.adapters}, at the scale the row
 * asked for. Engines read what their server needs: the native server the GGUF adapter's path, trtllm-serve the PEFT
 * directory and a stable integer id (its {@code lora_request}), DJL Serving the name its adapters are registered by.
 *
 * @param name the adapter's name in model.adapters
 * @param id a stable small integer for the adapter (its place in model.adapters by name)
 * @param path the adapter's file or directory
 * @param scale the scale this request applies it with
 * @param sha256 the fingerprint of the adapter's file (or of a directory's files, by name)
 */
public record LoraAdapter(String name, int id, String path, double scale, String sha256) implements java.io.Serializable {
  /** The same adapter at another scale. */
  public LoraAdapter withScale(double s) {
    return new LoraAdapter(name, id, path, s, sha256);
  }
}
