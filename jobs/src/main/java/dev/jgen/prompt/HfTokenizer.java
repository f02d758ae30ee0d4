package dev.jgen.prompt;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The model's own Hugging Face tokenizer (the Rust library, through DJL), so the CPU and GPU paths produce the token
 * ids transformers would. One instance per tokenizer per JVM: it is immutable and thread-safe.
 */
public final class HfTokenizer {
  private static final Map<String, HfTokenizer> SHARED = new ConcurrentHashMap<>();

  static {
    // DJL otherwise tries to download a CUDA build of its native library on GPU hosts.
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
  }

  private final HuggingFaceTokenizer tokenizer;

  private HfTokenizer(byte[] tokenizerJson) {
    try {
      // Special-token addition stays off: every supported template writes its own BOS text, and transformers'
      // apply_chat_template(tokenize=True) encodes with add_special_tokens=False. Added tokens inside the text
      // (<s>, </s>) are still matched as special tokens, as in Python.
      this.tokenizer = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson),
          Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false", "modelMaxLength", "100000000"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load tokenizer.json: " + e.getMessage(), e);
    }
  }

  /** The JVM's instance for this tokenizer.json, keyed by its content hash. */
  public static HfTokenizer shared(String sha256, byte[] tokenizerJson) {
    return SHARED.computeIfAbsent(sha256, k -> new HfTokenizer(tokenizerJson));
  }

  public int[] encode(String text) {
    Encoding enc = tokenizer.encode(text, false, false);
    long[] ids = enc.getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }
}
