package dev.jgen.model;

import java.math.BigDecimal;
import java.util.Locale;

/**
 * Shape, vocabulary size, weight type and seed of a random-weight Llama model written by {@link TinyModelWriter}.
 *
 * @param hidden        embedding length (hidden size)
 * @param layers        number of transformer blocks
 * @param heads         attention heads
 * @param kvHeads       key/value heads (grouped-query attention when smaller than {@code heads})
 * @param ffn           feed-forward (intermediate) size
 * @param contextLength trained context length written to the metadata
 * @param extraVocab    vocabulary pieces beyond the 3 specials and 256 byte tokens; 0 = the built-in list
 *                      (a smaller number truncates the built-in list, a larger one pads it with synthetic pieces)
 * @param type          storage type of the weight matrices (norms stay F32)
 * @param seed          seed of the weights: the same spec always gives a byte-identical model.gguf
 * @param eosScale      0: EOS can never be generated (its output row is zero). Above 0: EOS's output row keeps its
 *                      random values, scaled by this factor, so its logit has {@code eosScale} times the spread of the
 *                      others and wins at some positions: generations stop after a prompt-dependent number of tokens.
 *                      Every other weight is the same as with 0, so the text before the stop is the same too.
 */
public record TinyModelSpec(int hidden, int layers, int heads, int kvHeads, int ffn, int contextLength, int extraVocab,
                            TensorType type, long seed, double eosScale) {

    public TinyModelSpec(int hidden, int layers, int heads, int kvHeads, int ffn, int contextLength, int extraVocab,
                         TensorType type, long seed) {
        this(hidden, layers, heads, kvHeads, ffn, contextLength, extraVocab, type, seed, 0);
    }

    /**
     * EOS logit scale of {@link #tinyStopping()}. Measured with llama.cpp, 40 prompts, temperature 0.7, seeds 0-39,
     * max_new_tokens 32: 24 stopped on EOS (2 of them with empty text), 16 ran to the limit. (At 1.0 more than half
     * are empty; greedy decoding stops at once from 1.0 up, since the template ends every prompt the same way.)
     */
    public static final double STOPPING_EOS_SCALE = 0.85;

    /** Vocabulary size of llm-jp-3 (config.json {@code vocab_size}). */
    public static final int LLM_JP_3_VOCAB_SIZE = 99_584;

    public TinyModelSpec {
        if (hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || ffn <= 0 || contextLength <= 0) {
            throw new IllegalArgumentException("sizes must be positive");
        }
        if (extraVocab < 0) {
            throw new IllegalArgumentException("extraVocab must be >= 0");
        }
        if (!(eosScale >= 0) || Double.isInfinite(eosScale)) {
            throw new IllegalArgumentException("eosScale must be a finite number >= 0");
        }
        if (type == null) {
            throw new IllegalArgumentException("type is required");
        }
        if (hidden % heads != 0) {
            throw new IllegalArgumentException("hidden " + hidden + " is not a multiple of heads " + heads);
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads " + heads + " is not a multiple of kvHeads " + kvHeads);
        }
        if ((hidden / heads) % 2 != 0) {
            throw new IllegalArgumentException("head dimension must be even (rotary embeddings)");
        }
        if (hidden % type.blockSize() != 0 || ffn % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + " needs hidden and ffn to be multiples of " + type.blockSize());
        }
    }

    /** hidden 64, 2 layers, 4 heads, 2 KV heads, FFN 128, context 2048, built-in vocabulary, F32, seed 42. */
    public static TinyModelSpec tiny() {
        return new TinyModelSpec(64, 2, 4, 2, 128, 2048, 0, TensorType.F32, 42L);
    }

    /** {@link #tiny()} whose EOS has a real probability ({@link #STOPPING_EOS_SCALE}): catalog entry tiny-llama-ja-stop. */
    public static TinyModelSpec tinyStopping() {
        return tiny().withEosScale(STOPPING_EOS_SCALE);
    }

    /** The spec a catalog entry's {@code source} names: {@code tiny} or {@code tiny-stop}. */
    public static TinyModelSpec forCatalogSource(String source) {
        return switch (source) {
            case "tiny" -> tiny();
            case "tiny-stop" -> tinyStopping();
            default -> throw new IllegalArgumentException("unknown tiny model source '" + source + "' (tiny | tiny-stop)");
        };
    }

    /**
     * llm-jp-3-1.8b's exact shape (hidden 2048, 24 layers, 16 heads, 16 KV heads, FFN 7168, context 4096, vocabulary
     * padded with synthetic pieces to 99,584) at Q4_0: about 1.05 GB. For benchmarks only.
     */
    public static TinyModelSpec llmJp3_1_8bShape() {
        return new TinyModelSpec(2048, 24, 16, 16, 7168, 4096,
                LLM_JP_3_VOCAB_SIZE - TinyVocabulary.FIRST_PIECE_ID, TensorType.Q4_0, 42L);
    }

    public TinyModelSpec withType(TensorType newType) {
        return new TinyModelSpec(hidden, layers, heads, kvHeads, ffn, contextLength, extraVocab, newType, seed, eosScale);
    }

    public TinyModelSpec withSeed(long newSeed) {
        return new TinyModelSpec(hidden, layers, heads, kvHeads, ffn, contextLength, extraVocab, type, newSeed, eosScale);
    }

    public TinyModelSpec withEosScale(double newEosScale) {
        return new TinyModelSpec(hidden, layers, heads, kvHeads, ffn, contextLength, extraVocab, type, seed, newEosScale);
    }

    public int headDim() {
        return hidden / heads;
    }

    /** Total vocabulary size (specials + bytes + pieces). */
    public int vocabSize() {
        return TinyVocabulary.FIRST_PIECE_ID + (extraVocab == 0 ? TinyVocabulary.builtinPieceCount() : extraVocab);
    }

    /**
     * A directory name that identifies this spec, e.g. {@code llama-h64-l2-a4-kv2-ff128-ctx2048-v0-f32-s42}; a stopping
     * model adds {@code -eos2.5} (an eosScale of 0 adds nothing, so the models written before it keep their name).
     */
    public String name() {
        return String.format(Locale.ROOT, "llama-h%d-l%d-a%d-kv%d-ff%d-ctx%d-v%d-%s-s%d",
                hidden, layers, heads, kvHeads, ffn, contextLength, extraVocab,
                type.name().toLowerCase(Locale.ROOT), seed)
                + (eosScale == 0 ? "" : "-eos" + BigDecimal.valueOf(eosScale).stripTrailingZeros().toPlainString());
    }
}
