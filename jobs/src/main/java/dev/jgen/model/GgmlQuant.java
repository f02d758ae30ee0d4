package dev.jgen.model;

/**
 * ggml's reference encodings of float values: IEEE fp16, and the Q8_0 / Q4_0 block formats
 * ({@code quantize_row_q8_0_ref} / {@code quantize_row_q4_0_ref} in ggml-quants.c).
 */
final class GgmlQuant {

    private GgmlQuant() {
    }

    /** Float to IEEE 754 half precision, round to nearest even (Java 17 has no Float.floatToFloat16). */
    static short fp16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int e = (bits >>> 23) & 0xff;
        int m = bits & 0x7fffff;
        if (e == 0xff) {
            return (short) (sign | 0x7c00 | (m != 0 ? 0x200 : 0));
        }
        int he = e - 127 + 15;
        if (he >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (he <= 0) {
            if (he < -10) {
                return (short) sign;
            }
            m |= 0x800000;
            int shift = 14 - he;
            int hm = m >>> shift;
            int rem = m & ((1 << shift) - 1);
            int half = 1 << (shift - 1);
            if (rem > half || (rem == half && (hm & 1) != 0)) {
                hm++;
            }
            return (short) (sign | hm);
        }
        int out = sign | (he << 10) | (m >>> 13);
        int rem = m & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (out & 1) != 0)) {
            out++; // a carry into the exponent is correct, up to infinity
        }
        return (short) out;
    }

    /** IEEE half to float (used by tests and for checks). */
    static float fp16ToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int e = (bits >>> 10) & 0x1f;
        int m = bits & 0x3ff;
        if (e == 0) {
            float v = m * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (e == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (m << 13));
        }
        return Float.intBitsToFloat(sign | ((e - 15 + 127) << 23) | (m << 13));
    }

    /** C roundf: half away from zero. */
    private static int roundf(float x) {
        return (int) (x < 0 ? -Math.floor(-x + 0.5f) : Math.floor(x + 0.5f));
    }

    /** Encodes 32 values from {@code x[off]} as one Q8_0 block (34 bytes) at {@code out[pos]}; returns the new pos. */
    static int q8_0Block(float[] x, int off, byte[] out, int pos) {
        float amax = 0f;
        for (int j = 0; j < 32; j++) {
            amax = Math.max(amax, Math.abs(x[off + j]));
        }
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        short h = fp16(d);
        out[pos] = (byte) h;
        out[pos + 1] = (byte) (h >>> 8);
        for (int j = 0; j < 32; j++) {
            out[pos + 2 + j] = (byte) roundf(x[off + j] * id);
        }
        return pos + 34;
    }

    /** Encodes 32 values from {@code x[off]} as one Q4_0 block (18 bytes) at {@code out[pos]}; returns the new pos. */
    static int q4_0Block(float[] x, int off, byte[] out, int pos) {
        float amax = 0f;
        float max = 0f;
        for (int j = 0; j < 32; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8f;
        float id = d != 0f ? 1f / d : 0f;
        short h = fp16(d);
        out[pos] = (byte) h;
        out[pos + 1] = (byte) (h >>> 8);
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(15, (int) (x[off + j] * id + 8.5f));
            int q1 = Math.min(15, (int) (x[off + 16 + j] * id + 8.5f));
            out[pos + 2 + j] = (byte) (q0 | (q1 << 4));
        }
        return pos + 18;
    }
}
