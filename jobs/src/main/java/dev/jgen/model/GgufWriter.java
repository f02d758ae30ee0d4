package dev.jgen.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes a GGUF v3 file: header, typed key/value metadata, tensor infos, then the tensor data, each tensor aligned to
 * {@code general.alignment}. Tensor data is pulled from a {@link TensorSource} chunk by chunk and streamed to the file
 * through one large buffer, so a model of any size is written in constant memory.
 *
 * <p>Layout facts (GGUF v3, little-endian): strings are a u64 byte length followed by UTF-8 bytes; tensor dimensions are
 * written innermost first ({@code ne[0]} = number of columns = elements contiguous in memory); tensor offsets are
 * relative to the start of the data section and multiples of the alignment; the data section starts at the first
 * aligned offset after the tensor infos. As gguf-py does, every tensor (the last one included) is zero-padded to the
 * alignment.
 *
 * <p>Not thread-safe; describe everything, then call {@link #write(Path)} once (or only ask for the {@link #layout()}).
 */
public final class GgufWriter {

    /** Produces a tensor's values in memory order ({@code ne[0]} fastest), {@code len} at a time, called sequentially. */
    @FunctionalInterface
    public interface TensorSource {
        void fill(float[] dst, int len);
    }

    /** Sizes of the file that {@link #write(Path)} would produce. */
    public record Layout(int tensorCount, int kvCount, long dataOffset, long dataBytes, long fileBytes) {
    }

    public static final int GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
    public static final int GGUF_VERSION = 3;

    // gguf_type
    private static final int T_UINT8 = 0;
    private static final int T_INT8 = 1;
    private static final int T_UINT16 = 2;
    private static final int T_INT16 = 3;
    private static final int T_UINT32 = 4;
    private static final int T_INT32 = 5;
    private static final int T_FLOAT32 = 6;
    private static final int T_BOOL = 7;
    private static final int T_STRING = 8;
    private static final int T_ARRAY = 9;
    private static final int T_UINT64 = 10;
    private static final int T_INT64 = 11;
    private static final int T_FLOAT64 = 12;

    private static final int BUFFER_BYTES = 8 << 20;
    private static final int CHUNK_VALUES = 64 * 1024; // multiple of every block size

    private record Kv(String key, int type, Object value) {
    }

    private record Tensor(String name, TensorType type, long[] ne, long elements, long bytes, long offset,
                          TensorSource source) {
    }

    private final int alignment;
    private final List<Kv> kvs = new ArrayList<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private final Set<String> keys = new HashSet<>();
    private final Set<String> tensorNames = new HashSet<>();
    private long nextOffset;

    /** Starts a file with {@code general.architecture} and {@code general.alignment} as its first two keys. */
    public GgufWriter(String architecture, int alignment) {
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two: " + alignment);
        }
        this.alignment = alignment;
        putString("general.architecture", architecture);
        putUInt32("general.alignment", alignment);
    }

    public int alignment() {
        return alignment;
    }

    // ---------------------------------------------------------------- metadata

    public GgufWriter putString(String key, String value) {
        return add(key, T_STRING, value);
    }

    public GgufWriter putUInt32(String key, long value) {
        if (value < 0 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException(key + ": not a u32: " + value);
        }
        return add(key, T_UINT32, value);
    }

    public GgufWriter putInt32(String key, int value) {
        return add(key, T_INT32, value);
    }

    public GgufWriter putUInt64(String key, long value) {
        return add(key, T_UINT64, value);
    }

    public GgufWriter putFloat32(String key, float value) {
        return add(key, T_FLOAT32, value);
    }

    public GgufWriter putBool(String key, boolean value) {
        return add(key, T_BOOL, value);
    }

    public GgufWriter putStringArray(String key, List<String> values) {
        return add(key, T_ARRAY, new Arr(T_STRING, List.copyOf(values)));
    }

    public GgufWriter putFloat32Array(String key, float[] values) {
        return add(key, T_ARRAY, new Arr(T_FLOAT32, values.clone()));
    }

    public GgufWriter putInt32Array(String key, int[] values) {
        return add(key, T_ARRAY, new Arr(T_INT32, values.clone()));
    }

    private record Arr(int elementType, Object values) {
        int length() {
            return switch (elementType) {
                case T_STRING -> ((List<?>) values).size();
                case T_FLOAT32 -> ((float[]) values).length;
                case T_INT32 -> ((int[]) values).length;
                default -> throw new IllegalStateException();
            };
        }
    }

    private GgufWriter add(String key, int type, Object value) {
        if (!keys.add(key)) {
            throw new IllegalArgumentException("duplicate key " + key);
        }
        kvs.add(new Kv(key, type, value));
        return this;
    }

    // ---------------------------------------------------------------- tensors

    /**
     * Declares a tensor. {@code ne} is in ggml order: {@code ne[0]} is the row length (the input dimension of a weight
     * matrix), {@code ne[1]} the number of rows. Values are pulled from {@code source} only when the file is written.
     */
    public GgufWriter addTensor(String name, TensorType type, long[] ne, TensorSource source) {
        if (!tensorNames.add(name)) {
            throw new IllegalArgumentException("duplicate tensor " + name);
        }
        if (ne.length < 1 || ne.length > 4) {
            throw new IllegalArgumentException(name + ": 1 to 4 dimensions");
        }
        long elements = 1;
        for (long d : ne) {
            if (d <= 0) {
                throw new IllegalArgumentException(name + ": bad dimension " + d);
            }
            elements = Math.multiplyExact(elements, d);
        }
        if (ne[0] % type.blockSize() != 0) {
            throw new IllegalArgumentException(name + ": row length " + ne[0] + " not a multiple of " + type.blockSize());
        }
        long bytes = type.bytesFor(elements);
        tensors.add(new Tensor(name, type, ne.clone(), elements, bytes, nextOffset, source));
        nextOffset = align(nextOffset + bytes);
        return this;
    }

    /** Computes the file's sizes without writing anything (and without touching any tensor source). */
    public Layout layout() {
        long header = 4 + 4 + 8 + 8;
        for (Kv kv : kvs) {
            header += stringBytes(kv.key) + 4 + valueBytes(kv.type, kv.value);
        }
        for (Tensor t : tensors) {
            header += stringBytes(t.name) + 4 + 8L * t.ne.length + 4 + 8;
        }
        long dataOffset = align(header);
        return new Layout(tensors.size(), kvs.size(), dataOffset, nextOffset, dataOffset + nextOffset);
    }

    private long align(long n) {
        return (n + alignment - 1) / alignment * alignment;
    }

    private static long stringBytes(String s) {
        return 8 + s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static long valueBytes(int type, Object v) {
        switch (type) {
            case T_UINT8, T_INT8, T_BOOL:
                return 1;
            case T_UINT16, T_INT16:
                return 2;
            case T_UINT32, T_INT32, T_FLOAT32:
                return 4;
            case T_UINT64, T_INT64, T_FLOAT64:
                return 8;
            case T_STRING:
                return stringBytes((String) v);
            case T_ARRAY: {
                Arr a = (Arr) v;
                long n = 4 + 8;
                if (a.elementType == T_STRING) {
                    for (Object s : (List<?>) a.values) {
                        n += stringBytes((String) s);
                    }
                } else {
                    n += 4L * a.length();
                }
                return n;
            }
            default:
                throw new IllegalStateException("type " + type);
        }
    }

    // ---------------------------------------------------------------- writing

    /**
     * Writes the file (replacing it) and returns the SHA-256 of its bytes, computed while streaming.
     */
    public byte[] write(Path file) throws IOException {
        Layout layout = layout();
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
             Out out = new Out(ch, sha)) {
            out.u32(GGUF_MAGIC);
            out.u32(GGUF_VERSION);
            out.u64(tensors.size());
            out.u64(kvs.size());
            for (Kv kv : kvs) {
                out.string(kv.key);
                out.u32(kv.type);
                writeValue(out, kv.type, kv.value);
            }
            for (Tensor t : tensors) {
                out.string(t.name);
                out.u32(t.ne.length);
                for (long d : t.ne) {
                    out.u64(d);
                }
                out.u32(t.type.ggmlType());
                out.u64(t.offset);
            }
            out.padTo(layout.dataOffset());
            float[] values = new float[CHUNK_VALUES];
            for (Tensor t : tensors) {
                long start = out.position();
                if (start != layout.dataOffset() + t.offset) {
                    throw new IllegalStateException("offset mismatch for " + t.name);
                }
                long left = t.elements;
                while (left > 0) {
                    int n = (int) Math.min(left, CHUNK_VALUES);
                    t.source.fill(values, n);
                    out.encode(t.type, values, n);
                    left -= n;
                }
                if (out.position() - start != t.bytes) {
                    throw new IllegalStateException("size mismatch for " + t.name);
                }
                out.padTo(align(out.position()));
            }
            if (out.position() != layout.fileBytes()) {
                throw new IllegalStateException("file size " + out.position() + " != planned " + layout.fileBytes());
            }
        }
        return sha.digest();
    }

    private static void writeValue(Out out, int type, Object v) throws IOException {
        switch (type) {
            case T_UINT32 -> out.u32((int) (long) (Long) v);
            case T_INT32 -> out.u32((Integer) v);
            case T_UINT64 -> out.u64((Long) v);
            case T_FLOAT32 -> out.u32(Float.floatToRawIntBits((Float) v));
            case T_BOOL -> out.u8((Boolean) v ? 1 : 0);
            case T_STRING -> out.string((String) v);
            case T_ARRAY -> {
                Arr a = (Arr) v;
                out.u32(a.elementType);
                out.u64(a.length());
                switch (a.elementType) {
                    case T_STRING -> {
                        for (Object s : (List<?>) a.values) {
                            out.string((String) s);
                        }
                    }
                    case T_FLOAT32 -> {
                        for (float f : (float[]) a.values) {
                            out.u32(Float.floatToRawIntBits(f));
                        }
                    }
                    case T_INT32 -> {
                        for (int i : (int[]) a.values) {
                            out.u32(i);
                        }
                    }
                    default -> throw new IllegalStateException();
                }
            }
            default -> throw new IllegalStateException("type " + type);
        }
    }

    /** Little-endian output through one large heap buffer, hashing every byte on its way to the channel. */
    private static final class Out implements AutoCloseable {
        private final FileChannel ch;
        private final MessageDigest sha;
        private final byte[] buf = new byte[BUFFER_BYTES];
        private int n;
        private long flushed;

        Out(FileChannel ch, MessageDigest sha) {
            this.ch = ch;
            this.sha = sha;
        }

        long position() {
            return flushed + n;
        }

        private void ensure(int bytes) throws IOException {
            if (buf.length - n < bytes) {
                flush();
            }
        }

        void flush() throws IOException {
            if (n == 0) {
                return;
            }
            sha.update(buf, 0, n);
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
            while (bb.hasRemaining()) {
                ch.write(bb);
            }
            flushed += n;
            n = 0;
        }

        void u8(int v) throws IOException {
            ensure(1);
            buf[n++] = (byte) v;
        }

        void u32(int v) throws IOException {
            ensure(4);
            putInt(v);
        }

        private void putInt(int v) {
            buf[n] = (byte) v;
            buf[n + 1] = (byte) (v >>> 8);
            buf[n + 2] = (byte) (v >>> 16);
            buf[n + 3] = (byte) (v >>> 24);
            n += 4;
        }

        void u64(long v) throws IOException {
            ensure(8);
            putInt((int) v);
            putInt((int) (v >>> 32));
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void bytes(byte[] b) throws IOException {
            int off = 0;
            while (off < b.length) {
                ensure(1);
                int k = Math.min(b.length - off, buf.length - n);
                System.arraycopy(b, off, buf, n, k);
                n += k;
                off += k;
            }
        }

        void padTo(long pos) throws IOException {
            while (position() < pos) {
                u8(0);
            }
        }

        /** Encodes {@code len} values (a multiple of the block size) as {@code type}. */
        void encode(TensorType type, float[] v, int len) throws IOException {
            int need = (int) type.bytesFor(len);
            ensure(need); // CHUNK_VALUES values never exceed the buffer
            switch (type) {
                case F32 -> {
                    for (int i = 0; i < len; i++) {
                        putInt(Float.floatToRawIntBits(v[i]));
                    }
                }
                case F16 -> {
                    for (int i = 0; i < len; i++) {
                        short h = GgmlQuant.fp16(v[i]);
                        buf[n++] = (byte) h;
                        buf[n++] = (byte) (h >>> 8);
                    }
                }
                case Q8_0 -> {
                    for (int i = 0; i < len; i += 32) {
                        n = GgmlQuant.q8_0Block(v, i, buf, n);
                    }
                }
                case Q4_0 -> {
                    for (int i = 0; i < len; i += 32) {
                        n = GgmlQuant.q4_0Block(v, i, buf, n);
                    }
                }
            }
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
