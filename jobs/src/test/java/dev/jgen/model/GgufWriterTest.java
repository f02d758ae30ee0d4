package dev.jgen.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GGUF layout, ggml encodings and the vocabulary, without llama.cpp. */
class GgufWriterTest {

    @TempDir
    Path tmp;

    @Test
    void planned1_8bShapeSizesWithoutWriting() {
        TinyModelSpec spec = TinyModelSpec.llmJp3_1_8bShape();
        assertEquals(99_584, spec.vocabSize());
        GgufWriter.Layout layout = TinyModelWriter.layout(spec);
        long h = 2048, v = 99_584, f = 7168, layers = 24;
        long q4 = 18; // bytes per 32 values
        long perLayer = (4 * h * h + 3 * h * f) / 32 * q4 + 2 * h * 4;
        long expected = 2 * (h * v / 32 * q4) + layers * perLayer + h * 4;
        assertEquals(3 + 9 * layers, layout.tensorCount());
        assertEquals(expected, layout.dataBytes());
        assertEquals(0, layout.dataOffset() % 32);
        assertEquals(layout.dataOffset() + layout.dataBytes(), layout.fileBytes());
        assertTrue(layout.fileBytes() > 1_000_000_000L && layout.fileBytes() < 1_100_000_000L, "" + layout.fileBytes());
    }

    @Test
    void fileParsesBackWithAlignedTensors() throws IOException {
        TinyModelSpec spec = TinyModelSpec.tiny().withType(TensorType.Q4_0);
        Path dir = TinyModelWriter.write(tmp.resolve("m"), spec);
        try (FileChannel ch = FileChannel.open(dir.resolve("model.gguf"))) {
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(GgufWriter.GGUF_MAGIC, b.getInt());
            assertEquals(3, b.getInt());
            long tensors = b.getLong();
            long kvs = b.getLong();
            Map<String, Object> kv = new LinkedHashMap<>();
            for (long i = 0; i < kvs; i++) {
                String key = str(b);
                kv.put(key, value(b, b.getInt()));
            }
            assertEquals("llama", kv.get("general.architecture"));
            assertEquals(32L, kv.get("general.alignment"));
            assertEquals((long) spec.vocabSize(), kv.get("llama.vocab_size"));
            assertEquals(16L, kv.get("llama.rope.dimension_count"));
            assertEquals(spec.vocabSize(), ((List<?>) kv.get("tokenizer.ggml.tokens")).size());
            assertEquals(TinyModelWriter.LLM_JP_3_CHAT_TEMPLATE, kv.get("tokenizer.chat_template"));
            assertEquals(21, tensors);
            Map<String, long[]> infos = new LinkedHashMap<>();
            for (long i = 0; i < tensors; i++) {
                String name = str(b);
                int nd = b.getInt();
                long[] ne = new long[nd];
                for (int d = 0; d < nd; d++) {
                    ne[d] = b.getLong();
                }
                int type = b.getInt();
                long off = b.getLong();
                assertEquals(0, off % 32, name);
                infos.put(name, new long[] {type, off, ne[0], nd > 1 ? ne[1] : 1});
            }
            long dataStart = (b.position() + 31) / 32 * 32;
            assertEquals(TinyModelWriter.layout(spec).dataOffset(), dataStart);
            assertEquals(List.of(64L, (long) spec.vocabSize()), List.of(infos.get("output.weight")[2], infos.get("output.weight")[3]));
            assertEquals(List.of(128L, 64L), List.of(infos.get("blk.1.ffn_down.weight")[2], infos.get("blk.1.ffn_down.weight")[3]));
            assertEquals(List.of(64L, 32L), List.of(infos.get("blk.0.attn_k.weight")[2], infos.get("blk.0.attn_k.weight")[3]));
            long[] norm = infos.get("output_norm.weight");
            assertEquals(0, norm[0]);
            assertEquals(1f, b.getFloat((int) (dataStart + norm[1])));
            long[] out = infos.get("output.weight");
            assertEquals(2, out[0]); // Q4_0
            // the first rows (control and byte tokens) are zeros: scale 0, nibbles 8
            int first = (int) (dataStart + out[1]);
            assertTrue(GgmlQuant.fp16ToFloat(b.getShort(first)) == 0f); // -0.0 as in ggml (max / -8)
            assertEquals((byte) 0x88, b.get(first + 2));
            long[] q = infos.get("blk.0.attn_q.weight");
            int blk = (int) (dataStart + q[1]);
            float d = GgmlQuant.fp16ToFloat(b.getShort(blk));
            assertTrue(Math.abs(d) > 0.001 && Math.abs(d) < 0.01, "Q4_0 scale " + d);
        }
    }

    private static String str(ByteBuffer b) {
        byte[] s = new byte[(int) b.getLong()];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static Object value(ByteBuffer b, int type) {
        switch (type) {
            case 4: return b.getInt() & 0xFFFFFFFFL;
            case 5: return (long) b.getInt();
            case 6: return b.getFloat();
            case 7: return b.get() != 0;
            case 8: return str(b);
            case 10: return b.getLong();
            case 9: {
                int et = b.getInt();
                long n = b.getLong();
                List<Object> list = new java.util.ArrayList<>();
                for (long i = 0; i < n; i++) {
                    list.add(value(b, et));
                }
                return list;
            }
            default: throw new IllegalArgumentException("type " + type);
        }
    }

    @Test
    void fp16MatchesIeee() {
        assertEquals((short) 0x3C00, GgmlQuant.fp16(1f));
        assertEquals((short) 0xC000, GgmlQuant.fp16(-2f));
        assertEquals((short) 0x2E66, GgmlQuant.fp16(0.1f));
        assertEquals((short) 0x7BFF, GgmlQuant.fp16(65504f));
        assertEquals((short) 0x7C00, GgmlQuant.fp16(65520f));
        assertEquals((short) 0x0001, GgmlQuant.fp16(0x1p-24f));
        assertEquals((short) 0x0000, GgmlQuant.fp16(0x1p-25f)); // tie to even
        assertEquals((short) 0x0400, GgmlQuant.fp16(0x1p-14f));
        for (int h = 0; h < 0x10000; h++) {
            if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) {
                continue; // NaN
            }
            assertEquals((short) h, GgmlQuant.fp16(GgmlQuant.fp16ToFloat((short) h)), Integer.toHexString(h));
        }
    }

    @Test
    void quantizedBlocksDecodeClose() {
        SplittableRandom r = new SplittableRandom(1);
        float[] x = new float[32];
        for (int i = 0; i < 32; i++) {
            x[i] = (float) (r.nextDouble() * 0.08 - 0.04);
        }
        byte[] out = new byte[34];
        assertEquals(34, GgmlQuant.q8_0Block(x, 0, out, 0));
        float d8 = GgmlQuant.fp16ToFloat((short) ((out[0] & 0xff) | (out[1] << 8)));
        for (int i = 0; i < 32; i++) {
            assertEquals(x[i], out[2 + i] * d8, d8 * 0.51 + 1e-6, "q8 " + i);
        }
        assertEquals(18, GgmlQuant.q4_0Block(x, 0, out, 0));
        float d4 = GgmlQuant.fp16ToFloat((short) ((out[0] & 0xff) | (out[1] << 8)));
        for (int j = 0; j < 16; j++) {
            int lo = (out[2 + j] & 0x0F) - 8;
            int hi = ((out[2 + j] >> 4) & 0x0F) - 8;
            assertEquals(x[j], lo * d4, Math.abs(d4) * 0.51 + 1e-6, "q4 " + j);
            assertEquals(x[16 + j], hi * d4, Math.abs(d4) * 0.51 + 1e-6, "q4 " + (16 + j));
        }
    }

    @Test
    void vocabularyLayout() {
        TinyVocabulary v = TinyVocabulary.build(0);
        List<String> t = v.tokens();
        assertEquals(List.of("<unk>", "<s>", "</s>", "<0x00>"), t.subList(0, 4));
        assertEquals("<0x0A>", t.get(13));
        assertEquals("<0xFF>", t.get(258));
        assertEquals(TinyModelSpec.tiny().vocabSize(), v.size());
        for (String p : List.of("▁", "###", "指示", "応答", ":", "、", "。", "「", "」", "以下", "タスク", "です", "▁the", "こんにちは")) {
            assertTrue(t.contains(p), p);
        }
        assertEquals(2, v.tokenTypes()[0]); // <unk> is UNKNOWN
        assertEquals(3, v.tokenTypes()[1]);
        assertEquals(6, v.tokenTypes()[3]);
        assertEquals(1, v.tokenTypes()[TinyVocabulary.FIRST_PIECE_ID]);
        assertTrue(TinyVocabulary.unambiguous(new HashSet<>(t.subList(TinyVocabulary.FIRST_PIECE_ID, t.size()))));
        assertEquals(TinyVocabulary.FIRST_PIECE_ID + 100, TinyVocabulary.build(100).size());

        TinyVocabulary big = TinyVocabulary.build(TinyModelSpec.llmJp3_1_8bShape().extraVocab());
        assertEquals(99_584, big.size());
        Set<String> pieces = new HashSet<>(big.tokens().subList(TinyVocabulary.FIRST_PIECE_ID, big.size()));
        assertEquals(big.size() - TinyVocabulary.FIRST_PIECE_ID, pieces.size());
        assertTrue(TinyVocabulary.unambiguous(pieces));
    }
}
