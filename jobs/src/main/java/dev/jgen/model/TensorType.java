package dev.jgen.model;

/**
 * Storage type of the weight matrices in a written GGUF model. Norm vectors are always F32.
 *
 * <p>The quantized types use ggml's block layouts: {@code Q8_0} = blocks of 32 values stored as an fp16 scale followed by
 * 32 signed bytes (34 bytes); {@code Q4_0} = blocks of 32 values stored as an fp16 scale followed by 16 bytes of 4-bit
 * values, value {@code j} in the low nibble of byte {@code j} and value {@code j+16} in its high nibble (18 bytes).
 */
public enum TensorType {
    F32(0, 1, 4, 0, "float32"),
    F16(1, 1, 2, 1, "float16"),
    Q8_0(8, 32, 34, 7, "bfloat16"),
    Q4_0(2, 32, 18, 2, "bfloat16");

    private final int ggmlType;
    private final int blockSize;
    private final int blockBytes;
    private final int fileType;
    private final String torchDtype;

    TensorType(int ggmlType, int blockSize, int blockBytes, int fileType, String torchDtype) {
        this.ggmlType = ggmlType;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.fileType = fileType;
        this.torchDtype = torchDtype;
    }

    /** The {@code ggml_type} id written in GGUF tensor infos. */
    public int ggmlType() {
        return ggmlType;
    }

    /** Number of values per block (1 for the float types, 32 for the quantized ones). */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int blockBytes() {
        return blockBytes;
    }

    /** {@code general.file_type} (llama_ftype) of a model whose matrices are of this type. */
    public int fileType() {
        return fileType;
    }

    /** {@code torch_dtype} for config.json (the dtype the real model would have in HF form). */
    public String torchDtype() {
        return torchDtype;
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** Bytes needed for {@code elements} values; {@code elements} must be a multiple of {@link #blockSize()}. */
    public long bytesFor(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(this + " needs a multiple of " + blockSize + " values, got " + elements);
        }
        return elements / blockSize * blockBytes;
    }
}
