package dev.jgen.model;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * A random LoRA adapter for the tiny model (issue 31): low-rank A and B on every attention and MLP projection, in
 * llama.cpp's adapter format, so the per-row adapter path runs on real files in tests and demos. For a projection
 * {@code W} with {@code ne = [cols, rows]} (rows x cols, input length cols), {@code <name>.lora_a} has
 * {@code ne = [cols, rank]} (A, rank x cols) and {@code <name>.lora_b} has {@code ne = [rank, rows]} (B, rows x rank),
 * as llama.cpp's loader checks them (src/llama-adapter.cpp: A's ne[0] equals W's ne[0], B's ne[1] equals W's ne[1],
 * A's ne[1] equals B's ne[0]); the layer computes {@code W x + scale * B (A x)}, with scale = the request's scale times
 * alpha / rank (llama-graph.cpp), and alpha is written as the rank, so the scale is the request's. The merged model
 * ({@link TinyModelWriter#writeMerged}) holds {@code W + scale * B A}: what the adapter computes, folded into W.
 *
 * @param name the adapter's name (a file {@code <name>.gguf})
 * @param rank the low rank r
 * @param seed A's and B's random stream (with each tensor's name)
 */
public record TinyLora(String name, int rank, long seed) {
  /** The projections adapted, as in PEFT's usual target_modules (q, k, v, o, gate, up, down). */
  public static final List<String> TARGETS = List.of("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down");
  /**
   * Standard deviation of A's and B's values: B A then has a standard deviation of sqrt(rank) * 0.1^2, 0.02 at rank 4,
   * the base weights' own, so an adapter at scale 1 visibly changes the greedy output.
   */
  static final double STD = 0.1;

  public TinyLora {
    if (name == null || !name.matches("[A-Za-z0-9_-]+")) {
      throw new IllegalArgumentException("adapter name: letters, digits, '_' and '-' only, got '" + name + "'");
    }
    if (rank < 1) {
      throw new IllegalArgumentException("rank must be at least 1: " + rank);
    }
  }

  /** An adapter whose random stream follows from its name: each name a different adapter. */
  public static TinyLora named(String name) {
    long h = 0xcbf29ce484222325L;
    for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
      h = (h ^ (b & 0xff)) * 0x100000001b3L;
    }
    return new TinyLora(name, 4, h);
  }

  /** The file name of the adapter beside the base model. */
  public String fileName() {
    return name + ".gguf";
  }

  /** The projections of the model, each with (cols, rows): input and output lengths. */
  record Target(String tensor, long cols, long rows) {}

  static List<Target> targets(TinyModelSpec spec) {
    long h = spec.hidden();
    long q = (long) spec.heads() * spec.headDim();
    long kv = (long) spec.kvHeads() * spec.headDim();
    long f = spec.ffn();
    List<Target> out = new java.util.ArrayList<>();
    for (int i = 0; i < spec.layers(); i++) {
      String b = "blk." + i + ".";
      out.add(new Target(b + "attn_q.weight", h, q));
      out.add(new Target(b + "attn_k.weight", h, kv));
      out.add(new Target(b + "attn_v.weight", h, kv));
      out.add(new Target(b + "attn_output.weight", q, h));
      out.add(new Target(b + "ffn_gate.weight", h, f));
      out.add(new Target(b + "ffn_up.weight", h, f));
      out.add(new Target(b + "ffn_down.weight", f, h));
    }
    return out;
  }

  /** A of a projection, rank x cols, row-major (memory order of ne = [cols, rank]). */
  float[] a(Target t) {
    return values(t.tensor() + ".lora_a", (int) (rank * t.cols()), (int) t.cols());
  }

  /** B of a projection, rows x rank, row-major (memory order of ne = [rank, rows]). */
  float[] b(Target t) {
    return values(t.tensor() + ".lora_b", (int) (t.rows() * rank), rank);
  }

  private float[] values(String tensor, int n, int rowLength) {
    float[] v = new float[n];
    new TinyModelWriter.RandomWeights(TinyModelWriter.mix(seed, tensor), STD, rowLength, null).fill(v, n);
    return v;
  }

  /** Writes the adapter file (GGUF, general.type=adapter) for the base model {@code spec}. */
  public Path writeAdapter(Path file, TinyModelSpec spec) throws IOException {
    GgufWriter w = new GgufWriter("llama", 32);
    w.putString("general.type", "adapter");
    w.putString("general.name", "jgen-" + spec.name() + "-lora-" + name);
    w.putString("adapter.type", "lora");
    w.putFloat32("adapter.lora.alpha", rank);
    for (Target t : targets(spec)) {
      float[] a = a(t);
      float[] b = b(t);
      w.addTensor(t.tensor() + ".lora_a", TensorType.F32, new long[] {t.cols(), rank}, copier(a));
      w.addTensor(t.tensor() + ".lora_b", TensorType.F32, new long[] {rank, t.rows()}, copier(b));
    }
    w.write(file);
    return file;
  }

  private static GgufWriter.TensorSource copier(float[] values) {
    int[] at = {0};
    return (dst, len) -> {
      System.arraycopy(values, at[0], dst, 0, len);
      at[0] += len;
    };
  }

  /**
   * The merged weights of one projection as a stream: the base's values plus scale * (B A)[row][col], in memory order.
   */
  GgufWriter.TensorSource merged(Target t, GgufWriter.TensorSource base, double scale) {
    float[] a = a(t);
    float[] b = b(t);
    int cols = (int) t.cols();
    long[] position = {0};
    return (dst, len) -> {
      base.fill(dst, len);
      for (int i = 0; i < len; i++) {
        long p = position[0] + i;
        int row = (int) (p / cols);
        int col = (int) (p % cols);
        double d = 0;
        for (int k = 0; k < rank; k++) {
          d += (double) b[row * rank + k] * a[k * cols + col];
        }
        dst[i] += (float) (scale * d);
      }
      position[0] += len;
    };
  }
}
