package dev.jgen.catalog;

import dev.jgen.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * GPU presets for serving a catalog model with TensorRT-LLM: which GPU counts (tensor-parallel sizes) and precisions fit
 * on one GPU kind, and the largest batch that leaves KV-cache room for the job's context. Derived, not measured; the
 * derivation is in docs/serving.md. Per GPU, with tensor parallel size {@code tp}:
 *
 * <pre>
 *   weights   = ((parameters - embeddings) x bytes(precision) + embeddings x 2) / tp
 *               embeddings = 2 x vocab x hidden (input table and LM head, both kept in 16 bits when quantized)
 *   kv/token  = 2 (K and V) x layers x max(1, kv_heads / tp) x head_dim x bytes(KV dtype)
 *   budget    = GPU memory x memory fraction - reserve (CUDA context, activations for max_num_tokens, buffers)
 *   batch     = floor((budget - weights) / (kv/token x context)), capped at {@link #MAX_BATCH}
 * </pre>
 *
 * A preset fits when batch >= 1. Bytes: BF16 2; FP8 1 (weights and KV cache, Hopper and later); INT4 (AWQ, W4A16) 0.5
 * plus one 16-bit scale per group of 128 weights, KV cache in BF16.
 */
public final class GpuPresets {
  /** The largest batch a preset proposes; beyond it decode is compute-bound and the gain is small. */
  public static final int MAX_BATCH = 256;
  /** Per-GPU reserve outside weights and KV cache. */
  public static final long RESERVE_BYTES = 4L << 30;
  public static final double DEFAULT_MEMORY_FRACTION = 0.9;
  static final int[] TP_SIZES = {1, 2, 4, 8};

  /** A GPU kind: its memory as nvidia-smi reports it. */
  public record Gpu(String name, long memoryBytes, boolean fp8) {}

  public static final List<Gpu> GPUS = List.of(
      new Gpu("h100-80gb", 81_559L << 20, true), // H100 SXM5/PCIe 80 GB: 81559 MiB
      new Gpu("h200-141gb", 143_771L << 20, true)); // H200 141 GB: 143771 MiB

  /** A model's shape, as in conf/models/*.yaml {@code shape:}. */
  public record Shape(double parameters, int layers, int hidden, int heads, int kvHeads, int headDim, int vocab) {
    public static Shape of(ModelEntry e) {
      Map<String, Object> s = e.shape();
      if (s == null || s.isEmpty()) {
        return null;
      }
      try {
        return new Shape(num(s, "parameters"), (int) num(s, "layers"), (int) num(s, "hidden"), (int) num(s, "heads"),
            (int) num(s, "kv_heads"), (int) num(s, "head_dim"), (int) num(s, "vocab"));
      } catch (RuntimeException ex) {
        throw new ConfigException("model catalog: " + e.id() + ": shape: " + ex.getMessage(), ex);
      }
    }

    private static double num(Map<String, Object> s, String key) {
      Object v = s.get(key);
      if (v == null) {
        throw new IllegalArgumentException("missing " + key);
      }
      return v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString().trim()); // "69.2e9" is a YAML string
    }

    double embeddings() {
      return 2.0 * vocab * hidden;
    }
  }

  /** One configuration and its arithmetic. */
  public record Preset(String model, String gpu, String precision, int tp, int context, double memoryFraction,
      long gpuBytes, long weightBytes, long kvBytesPerToken, long reserveBytes, int batch) {

    public boolean fits() {
      return batch >= 1;
    }

    public long budgetBytes() {
      return (long) (gpuBytes * memoryFraction) - reserveBytes;
    }

    public long kvBytes() {
      return kvBytesPerToken * context * (long) batch;
    }

    /** Bytes used on each GPU by weights, KV cache and reserve. */
    public long usedBytes() {
      return weightBytes + kvBytes() + reserveBytes;
    }

    /** The arithmetic, for messages and docs. */
    public String arithmetic() {
      return String.format(Locale.ROOT,
          "%s %s TP%d on %s: weights %.2f GiB + KV %d seq x %d tok x %d B = %.2f GiB + reserve %.2f GiB = %.2f GiB "
              + "<= %.1f GiB x %.2f = %.2f GiB",
          model, precision, tp, gpu, gib(weightBytes), batch, context, kvBytesPerToken, gib(kvBytes()), gib(reserveBytes),
          gib(usedBytes()), gib(gpuBytes), memoryFraction, gib((long) (gpuBytes * memoryFraction)));
    }
  }

  private GpuPresets() {}

  static double gib(long b) {
    return b / (double) (1L << 30);
  }

  public static Gpu gpu(String name) {
    for (Gpu g : GPUS) {
      if (g.name().equalsIgnoreCase(name)) {
        return g;
      }
    }
    throw new ConfigException("--gpu: unknown GPU '" + name + "' (" + String.join(" | ", GPUS.stream().map(Gpu::name).toList()) + ")");
  }

  /** Precisions TensorRT-LLM serves for this GPU and architecture. */
  public static List<String> precisions(Gpu gpu, ModelEntry e) {
    List<String> p = new ArrayList<>(List.of("bf16"));
    if (gpu.fp8()) {
      p.add("fp8"); // FP8 weights and KV cache need Hopper (H100, H200) or later
    }
    String arch = e.architecture() == null ? "" : e.architecture().toLowerCase(Locale.ROOT);
    if (arch.equals("llama") || arch.equals("mistral") || arch.equals("mixtral")) {
      p.add("int4"); // INT4 AWQ (W4A16) through NVIDIA ModelOpt checkpoints, supported for these architectures
    }
    return p;
  }

  static double weightBytesPerParam(String precision) {
    return switch (precision) {
      case "bf16", "fp16" -> 2.0;
      case "fp8" -> 1.0;
      case "int4" -> 0.5 + 2.0 / 128; // 4-bit weights plus one fp16 scale per group of 128
      default -> throw new IllegalArgumentException("unknown precision " + precision);
    };
  }

  static int kvBytes(String precision) {
    return precision.equals("fp8") ? 1 : 2;
  }

  /** The preset for one precision and tensor-parallel size (batch 0 when it does not fit). */
  public static Preset preset(ModelEntry e, Shape s, Gpu gpu, String precision, int tp, int context, double fraction) {
    double embed = s.embeddings();
    long weights = (long) Math.ceil(((s.parameters() - embed) * weightBytesPerParam(precision) + embed * 2) / tp);
    int kvHeadsPerGpu = Math.max(1, s.kvHeads() / tp); // fewer KV heads than GPUs: each GPU keeps a copy of one
    long kvPerToken = 2L * s.layers() * kvHeadsPerGpu * s.headDim() * kvBytes(precision);
    long budget = (long) (gpu.memoryBytes() * fraction) - RESERVE_BYTES;
    long room = budget - weights;
    int batch = room <= 0 || s.heads() % tp != 0 ? 0 : (int) Math.min(MAX_BATCH, room / (kvPerToken * (long) context));
    return new Preset(e.id(), gpu.name(), precision, tp, context, fraction, gpu.memoryBytes(), weights, kvPerToken,
        RESERVE_BYTES, batch);
  }

  /** Every precision and tensor-parallel size up to 8 GPUs, fitting or not. */
  public static List<Preset> all(ModelEntry e, Gpu gpu, int context, double fraction) {
    Shape s = Shape.of(e);
    List<Preset> out = new ArrayList<>();
    if (s == null) {
      return out;
    }
    for (String p : precisions(gpu, e)) {
      for (int tp : TP_SIZES) {
        out.add(preset(e, s, gpu, p, tp, context, fraction));
      }
    }
    return out;
  }

  /**
   * The suggested preset: the fewest GPUs on which some precision reaches a batch of 32, at that GPU count the highest
   * precision that does (BF16, then FP8, then INT4); failing that, the largest batch found. Null when nothing fits.
   */
  public static Preset recommended(ModelEntry e, Gpu gpu, int context, double fraction) {
    List<Preset> all = all(e, gpu, context, fraction);
    for (int tp : TP_SIZES) {
      for (Preset p : all) {
        if (p.tp() == tp && p.batch() >= 32) {
          return p;
        }
      }
    }
    Preset best = null;
    for (Preset p : all) {
      if (p.fits() && (best == null || p.batch() > best.batch())) {
        best = p;
      }
    }
    return best;
  }

  /** The job context a preset plans for by default: the model's, at most 4096 (as generation jobs default). */
  public static int defaultContext(ModelEntry e) {
    return Math.min(e.contextLength(), 4096);
  }
}
