package dev.jgen.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgen.testing.TestFiles;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every supported model's GPU presets fit: weights + KV for the preset's batch at the context <= GPU memory x fraction. */
class GpuPresetsTest {
  static final Set<String> SUPPORTED = Set.of("karakuri-lm-70b-chat-v0.1", "karakuri-lm-8x7b-chat-v0.1", "llm-jp-3-1.8b-instruct",
      "llm-jp-3-3.7b-instruct", "llm-jp-3-13b-instruct", "llm-jp-3-172b-beta1-instruct", "Swallow-MS-7b-instruct-v0.1");

  static ModelCatalog catalog() {
    return ModelCatalog.load(TestFiles.conf());
  }

  @Test
  void everySupportedModelHasAShape() {
    Set<String> withShape = new TreeSet<>();
    for (ModelEntry e : catalog().entries()) {
      if (!e.isTiny()) {
        assertNotNull(GpuPresets.Shape.of(e), e.id() + " has no shape: no GPU presets");
        withShape.add(e.id());
      }
    }
    assertEquals(new TreeSet<>(SUPPORTED), withShape);
  }

  @TestFactory
  List<DynamicTest> thePresetOfEveryModelFitsOnEveryGpu() {
    double fraction = GpuPresets.DEFAULT_MEMORY_FRACTION;
    return catalog().entries().stream().filter(e -> SUPPORTED.contains(e.id())).flatMap(e -> GpuPresets.GPUS.stream()
        .map(gpu -> DynamicTest.dynamicTest(e.id() + " on " + gpu.name(), () -> {
          int context = GpuPresets.defaultContext(e);
          GpuPresets.Preset rec = GpuPresets.recommended(e, gpu, context, fraction);
          assertNotNull(rec, e.id() + " fits nowhere on 8 x " + gpu.name());
          for (GpuPresets.Preset p : GpuPresets.all(e, gpu, context, fraction)) {
            if (!p.fits()) {
              continue;
            }
            // Recomputed here from the shape, not read back from the preset's own sums.
            GpuPresets.Shape s = GpuPresets.Shape.of(e);
            double bytesPerParam = switch (p.precision()) {
              case "bf16" -> 2;
              case "fp8" -> 1;
              default -> 0.5 + 2.0 / 128;
            };
            double embed = 2.0 * s.vocab() * s.hidden();
            double weights = ((s.parameters() - embed) * bytesPerParam + embed * 2) / p.tp();
            double kvPerToken = 2.0 * s.layers() * Math.max(1, s.kvHeads() / p.tp()) * s.headDim() * (p.precision().equals("fp8") ? 1 : 2);
            double used = weights + kvPerToken * context * p.batch() + GpuPresets.RESERVE_BYTES;
            double limit = gpu.memoryBytes() * fraction;
            String arithmetic = p.arithmetic();
            assertTrue(used <= limit, "does not fit: " + arithmetic);
            assertEquals(used, p.usedBytes(), 16, arithmetic);
            if (p.batch() < GpuPresets.MAX_BATCH) {
              double oneMore = used + kvPerToken * context;
              assertTrue(oneMore > limit, "the batch is not the largest: one more sequence still fits: " + arithmetic);
            }
          }
        }))).toList();
  }

  @Test
  void knownCases() {
    ModelCatalog c = catalog();
    GpuPresets.Gpu h100 = GpuPresets.gpu("h100-80gb");
    ModelEntry k70 = c.get("karakuri-lm-70b-chat-v0.1");
    // 70B in BF16 (~129 GiB of weights) cannot sit on one 80 GB GPU; FP8 on two leaves room for a real batch.
    assertFalse(GpuPresets.preset(k70, GpuPresets.Shape.of(k70), h100, "bf16", 1, 4096, 0.9).fits());
    assertTrue(GpuPresets.preset(k70, GpuPresets.Shape.of(k70), h100, "fp8", 2, 4096, 0.9).batch() >= 32);
    // 172B needs eight H100s in BF16.
    ModelEntry l172 = c.get("llm-jp-3-172b-beta1-instruct");
    assertFalse(GpuPresets.preset(l172, GpuPresets.Shape.of(l172), h100, "bf16", 4, 4096, 0.9).fits());
    assertTrue(GpuPresets.preset(l172, GpuPresets.Shape.of(l172), h100, "bf16", 8, 4096, 0.9).fits());
    // A longer job context leaves room for fewer sequences.
    ModelEntry mx = c.get("karakuri-lm-8x7b-chat-v0.1");
    int at4k = GpuPresets.preset(mx, GpuPresets.Shape.of(mx), h100, "fp8", 1, 4096, 0.9).batch();
    int at32k = GpuPresets.preset(mx, GpuPresets.Shape.of(mx), h100, "fp8", 1, 32768, 0.9).batch();
    assertTrue(at32k > 0 && at32k < at4k / 4, at4k + " vs " + at32k);
  }
}
