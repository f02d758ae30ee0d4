package dev.jgen.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntPredicate;
import java.util.stream.Stream;

/**
 * Writes a Llama-architecture model with random weights (deterministic from the spec's seed) in the forms the project
 * reads: {@code model.gguf} (GGUF v3, for llama.cpp), {@code tokenizer.json} + {@code tokenizer_config.json} (HF
 * tokenizers, same vocabulary id for id, see {@link TinyVocabulary}), {@code config.json} (HF LlamaConfig-like) and
 * {@code jgen-model.json} (what was written, for cache staleness checks). No safetensors: the GGUF is the source of truth
 * (so the Q/K row permutation of convert_hf_to_gguf.py does not arise: random rows are random in either order).
 *
 * <p>Weights are uniform with standard deviation 0.02 (the output matrix: logits of standard deviation 2), norms are 1.
 * The output rows of the control tokens and of the byte tokens other than {@code <0x0A>} are zero, so greedy decoding
 * never picks them (their logit is exactly 0 while about half of the other logits are positive): generated text is always
 * made of printable pieces and never stops at EOS.
 * Tensors are generated and streamed to the file chunk by chunk, so the 1.8b-shape model (~1 GB at Q4_0) is written in
 * constant memory.
 */
public final class TinyModelWriter {

    /** Bump when the bytes written for a given spec change: cached models of an older version are rewritten. */
    public static final int WRITER_VERSION = 2;

    public static final String GGUF_FILE = "model.gguf";
    public static final String TOKENIZER_FILE = "tokenizer.json";
    public static final String TOKENIZER_CONFIG_FILE = "tokenizer_config.json";
    public static final String CONFIG_FILE = "config.json";
    public static final String METADATA_FILE = "jgen-model.json";

    /** llm-jp-3-instruct's chat template, exactly as in its tokenizer_config.json. */
    public static final String LLM_JP_3_CHAT_TEMPLATE = "{{bos_token}}"
            + "{% for message in messages %}"
            + "{% if message['role'] == 'user' %}{{ '\\n\\n### 指示:\\n' + message['content'] }}"
            + "{% elif message['role'] == 'system' %}{{ '以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。' }}"
            + "{% elif message['role'] == 'assistant' %}{{ '\\n\\n### 応答:\\n' + message['content'] + eos_token }}"
            + "{% endif %}"
            + "{% if loop.last and add_generation_prompt %}{{ '\\n\\n### 応答:\\n' }}"
            + "{% endif %}"
            + "{% endfor %}";

    public static final float RMS_NORM_EPS = 1e-5f;
    public static final float ROPE_FREQ_BASE = 10000f;
    /** Standard deviation of the random weights (all matrices but the output one). */
    public static final double WEIGHT_STD = 0.02;
    /**
     * Standard deviation of the logits: the output matrix has std {@code OUTPUT_LOGIT_STD / sqrt(hidden)}, and the final
     * hidden state is RMS-normalized, so logits spread enough that greedy decoding does not flip between near-ties on
     * rounding differences (batched vs single-token kernels, CPU vs GPU).
     */
    public static final double OUTPUT_LOGIT_STD = 2.0;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ConcurrentHashMap<Path, Object> IN_JVM_LOCKS = new ConcurrentHashMap<>();

    private TinyModelWriter() {
    }

    /** Writes all files of the model into {@code dir} (created if needed, files replaced) and returns {@code dir}. */
    public static Path write(Path dir, TinyModelSpec spec) throws IOException {
        return write(dir, spec, null, 0);
    }

    /**
     * The model {@code spec} with the adapter folded into its weights at {@code scale} ({@code W + scale * B A} on every
     * adapted projection, F32 like the base): a model directory {@code model.path} accepts, whose greedy output is what
     * the base model with the adapter at that scale gives (issue 31). Same tokenizer and chat template as the base.
     */
    public static Path writeMerged(Path dir, TinyModelSpec spec, TinyLora lora, double scale) throws IOException {
        if (spec.type() != TensorType.F32) {
            throw new IllegalArgumentException("a merged model is written for F32 bases only (a quantized one would round W + B A)");
        }
        return write(dir, spec, lora, scale);
    }

    private static Path write(Path dir, TinyModelSpec spec, TinyLora lora, double scale) throws IOException {
        Files.createDirectories(dir);
        TinyVocabulary vocab = TinyVocabulary.build(spec.extraVocab());
        GgufWriter gguf = gguf(spec, vocab, lora, scale);
        GgufWriter.Layout layout = gguf.layout();
        byte[] sha = gguf.write(dir.resolve(GGUF_FILE));

        writeJson(dir.resolve(TOKENIZER_FILE), vocab.tokenizerJson(JSON));
        writeJson(dir.resolve(TOKENIZER_CONFIG_FILE), tokenizerConfig(spec));
        writeJson(dir.resolve(CONFIG_FILE), hfConfig(spec, vocab));

        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", "jgen-tiny-model");
        meta.put("writer", TinyModelWriter.class.getName());
        meta.put("writerVersion", WRITER_VERSION);
        meta.put("name", spec.name());
        meta.set("spec", specJson(spec));
        if (lora != null) {
            ObjectNode merged = meta.putObject("mergedLora");
            merged.put("name", lora.name());
            merged.put("rank", lora.rank());
            merged.put("seed", lora.seed());
            merged.put("scale", scale);
        }
        meta.put("vocabSize", vocab.size());
        meta.put("headDim", spec.headDim());
        ObjectNode g = meta.putObject("gguf");
        g.put("file", GGUF_FILE);
        g.put("bytes", layout.fileBytes());
        g.put("sha256", HexFormat.of().formatHex(sha));
        g.put("tensorCount", layout.tensorCount());
        g.put("dataOffset", layout.dataOffset());
        g.put("dataBytes", layout.dataBytes());
        ArrayNode files = meta.putArray("files");
        for (String f : List.of(GGUF_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, CONFIG_FILE)) {
            files.add(f);
        }
        writeJson(dir.resolve(METADATA_FILE), meta);
        return dir;
    }

    /**
     * Returns {@code cacheDir/<spec.name()>}, writing the model there first if it is absent or stale (missing files, other
     * spec or writer version, model.gguf of the wrong size). The model is written into a temporary sibling directory and
     * renamed into place, under a file lock (and an in-JVM lock), so concurrent JVMs never see a half-written model and
     * only one of them writes it.
     */
    @SuppressWarnings("try") // the FileLock is held by the try block, never read
    public static Path ensure(Path cacheDir, TinyModelSpec spec) throws IOException {
        Files.createDirectories(cacheDir);
        Path target = cacheDir.resolve(spec.name()).toAbsolutePath().normalize();
        if (isCurrent(target, spec)) {
            return target;
        }
        Object jvmLock = IN_JVM_LOCKS.computeIfAbsent(target, k -> new Object());
        synchronized (jvmLock) {
            Path lockFile = cacheDir.resolve("." + spec.name() + ".lock");
            try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = ch.lock()) {
                if (isCurrent(target, spec)) {
                    return target;
                }
                String tmpPrefix = ".tmp-" + spec.name() + "-";
                deleteSiblings(cacheDir, tmpPrefix); // left by a writer that died holding this lock
                Path tmp = cacheDir.resolve(tmpPrefix + UUID.randomUUID());
                try {
                    write(tmp, spec);
                    if (Files.exists(target)) {
                        Path stale = cacheDir.resolve(".stale-" + spec.name() + "-" + UUID.randomUUID());
                        move(target, stale);
                        move(tmp, target);
                        deleteRecursively(stale);
                    } else {
                        move(tmp, target);
                    }
                } finally {
                    deleteRecursively(tmp);
                }
                if (!isCurrent(target, spec)) {
                    throw new IOException("model written to " + target + " does not check out");
                }
                return target;
            }
        }
    }

    /**
     * The shared model cache: system property {@code jgen.cache} (the build sets it to {@code target/jgen-cache}), else
     * {@code ${java.io.tmpdir}/jgen-cache}.
     */
    public static Path defaultCacheDir() {
        String dir = System.getProperty("jgen.cache");
        return dir != null && !dir.isBlank() ? Path.of(dir) : Path.of(System.getProperty("java.io.tmpdir"), "jgen-cache");
    }

    /** {@link #ensure(Path, TinyModelSpec)} in {@link #defaultCacheDir()}. */
    public static Path ensure(TinyModelSpec spec) throws IOException {
        return ensure(defaultCacheDir(), spec);
    }

    /** True if {@code dir} holds a complete model written by this writer version for {@code spec}. */
    public static boolean isCurrent(Path dir, TinyModelSpec spec) {
        try {
            Path metaFile = dir.resolve(METADATA_FILE);
            if (!Files.isRegularFile(metaFile)) {
                return false;
            }
            JsonNode meta = JSON.readTree(metaFile.toFile());
            if (meta.path("writerVersion").asInt(-1) != WRITER_VERSION || !specJson(spec).toString().equals(String.valueOf(meta.get("spec")))) {
                return false;
            }
            for (JsonNode f : meta.path("files")) {
                if (!Files.isRegularFile(dir.resolve(f.asText()))) {
                    return false;
                }
            }
            return Files.size(dir.resolve(GGUF_FILE)) == meta.path("gguf").path("bytes").asLong(-1);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Sizes of the model.gguf that {@link #write} would produce, computed without generating any weight. */
    public static GgufWriter.Layout layout(TinyModelSpec spec) {
        return gguf(spec, TinyVocabulary.build(spec.extraVocab())).layout();
    }

    // ------------------------------------------------------------------ GGUF

    private static GgufWriter gguf(TinyModelSpec spec, TinyVocabulary vocab) {
        return gguf(spec, vocab, null, 0);
    }

    private static GgufWriter gguf(TinyModelSpec spec, TinyVocabulary vocab, TinyLora lora, double scale) {
        GgufWriter w = new GgufWriter("llama", 32);
        w.putString("general.name", "jgen-" + spec.name() + (lora == null ? "" : "-merged-" + lora.name()));
        w.putUInt32("general.file_type", spec.type().fileType());
        if (spec.type().isQuantized()) {
            w.putUInt32("general.quantization_version", 2);
        }
        w.putUInt32("llama.vocab_size", vocab.size());
        w.putUInt32("llama.context_length", spec.contextLength());
        w.putUInt32("llama.embedding_length", spec.hidden());
        w.putUInt32("llama.block_count", spec.layers());
        w.putUInt32("llama.feed_forward_length", spec.ffn());
        w.putUInt32("llama.attention.head_count", spec.heads());
        w.putUInt32("llama.attention.head_count_kv", spec.kvHeads());
        w.putUInt32("llama.rope.dimension_count", spec.headDim());
        w.putFloat32("llama.attention.layer_norm_rms_epsilon", RMS_NORM_EPS);
        w.putFloat32("llama.rope.freq_base", ROPE_FREQ_BASE);

        w.putString("tokenizer.ggml.model", "llama");
        w.putStringArray("tokenizer.ggml.tokens", vocab.tokens());
        w.putFloat32Array("tokenizer.ggml.scores", vocab.scores());
        w.putInt32Array("tokenizer.ggml.token_type", vocab.tokenTypes());
        w.putUInt32("tokenizer.ggml.bos_token_id", TinyVocabulary.BOS_ID);
        w.putUInt32("tokenizer.ggml.eos_token_id", TinyVocabulary.EOS_ID);
        w.putUInt32("tokenizer.ggml.unknown_token_id", TinyVocabulary.UNK_ID);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.putBool("tokenizer.ggml.add_eos_token", false);
        w.putBool("tokenizer.ggml.add_space_prefix", true);
        w.putString("tokenizer.chat_template", LLM_JP_3_CHAT_TEMPLATE);

        long h = spec.hidden();
        long v = vocab.size();
        long q = (long) spec.heads() * spec.headDim();
        long kv = (long) spec.kvHeads() * spec.headDim();
        long f = spec.ffn();
        TensorType t = spec.type();
        int newline = TinyVocabulary.FIRST_BYTE_ID + '\n';
        // with eosScale > 0 the EOS row keeps its random values (scaled) instead of being silenced
        boolean eosSpeaks = spec.eosScale() > 0;
        IntPredicate silentRow = row -> row < TinyVocabulary.FIRST_PIECE_ID && row != newline
                && !(eosSpeaks && row == TinyVocabulary.EOS_ID);

        weight(w, spec, "token_embd.weight", t, h, v, null);
        java.util.Map<String, TinyLora.Target> adapted = new java.util.HashMap<>();
        if (lora != null) {
            for (TinyLora.Target target : TinyLora.targets(spec)) {
                adapted.put(target.tensor(), target);
            }
        }
        for (int i = 0; i < spec.layers(); i++) {
            String b = "blk." + i + ".";
            norm(w, b + "attn_norm.weight", h);
            projection(w, spec, b + "attn_q.weight", t, h, q, adapted, lora, scale);
            projection(w, spec, b + "attn_k.weight", t, h, kv, adapted, lora, scale);
            projection(w, spec, b + "attn_v.weight", t, h, kv, adapted, lora, scale);
            projection(w, spec, b + "attn_output.weight", t, q, h, adapted, lora, scale);
            norm(w, b + "ffn_norm.weight", h);
            projection(w, spec, b + "ffn_gate.weight", t, h, f, adapted, lora, scale);
            projection(w, spec, b + "ffn_up.weight", t, h, f, adapted, lora, scale);
            projection(w, spec, b + "ffn_down.weight", t, f, h, adapted, lora, scale);
        }
        norm(w, "output_norm.weight", h);
        w.addTensor("output.weight", t, new long[] {h, v}, new RandomWeights(mix(spec.seed(), "output.weight"),
                OUTPUT_LOGIT_STD / Math.sqrt(h), (int) h, silentRow, eosSpeaks ? TinyVocabulary.EOS_ID : -1,
                (float) spec.eosScale()));
        return w;
    }

    /** A projection matrix: the base's random values, plus the adapter's B A when a merged model is written. */
    private static void projection(GgufWriter w, TinyModelSpec spec, String name, TensorType type, long cols, long rows,
                                   java.util.Map<String, TinyLora.Target> adapted, TinyLora lora, double scale) {
        TinyLora.Target target = adapted.get(name);
        if (target == null) {
            weight(w, spec, name, type, cols, rows, null);
            return;
        }
        w.addTensor(name, type, new long[] {cols, rows},
                lora.merged(target, new RandomWeights(mix(spec.seed(), name), WEIGHT_STD, (int) cols, null), scale));
    }

    private static void norm(GgufWriter w, String name, long n) {
        w.addTensor(name, TensorType.F32, new long[] {n}, (dst, len) -> java.util.Arrays.fill(dst, 0, len, 1f));
    }

    /** A matrix of {@code rows} rows of {@code cols} values ({@code ne = [cols, rows]}). */
    private static void weight(GgufWriter w, TinyModelSpec spec, String name, TensorType type, long cols, long rows,
                               IntPredicate zeroRow) {
        weight(w, spec, name, type, cols, rows, zeroRow, WEIGHT_STD);
    }

    private static void weight(GgufWriter w, TinyModelSpec spec, String name, TensorType type, long cols, long rows,
                               IntPredicate zeroRow, double std) {
        w.addTensor(name, type, new long[] {cols, rows},
                new RandomWeights(mix(spec.seed(), name), std, (int) cols, zeroRow));
    }

    static long mix(long seed, String name) {
        long hsh = 0xcbf29ce484222325L; // FNV-1a 64
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            hsh = (hsh ^ (b & 0xff)) * 0x100000001b3L;
        }
        return RandomWeights.splitmix(seed ^ RandomWeights.splitmix(hsh));
    }

    /**
     * Uniform values with the given standard deviation from a SplitMix64 stream (two 24-bit values per 64-bit draw);
     * rows selected by {@code zeroRow} are zeros.
     */
    static final class RandomWeights implements GgufWriter.TensorSource {
        private final float amplitude;
        private final int rowLength;
        private final IntPredicate zeroRow;
        private long state;
        private long position;

        /** Row multiplied by {@link #rowScale} (the stopping model's EOS row), or -1. */
        private final int scaledRow;
        private final float rowScale;

        RandomWeights(long seed, double std, int rowLength, IntPredicate zeroRow) {
            this(seed, std, rowLength, zeroRow, -1, 1f);
        }

        RandomWeights(long seed, double std, int rowLength, IntPredicate zeroRow, int scaledRow, float rowScale) {
            this.state = seed;
            this.amplitude = (float) (std * Math.sqrt(3.0) / (1 << 23));
            this.rowLength = rowLength;
            this.zeroRow = zeroRow;
            this.scaledRow = scaledRow;
            this.rowScale = rowScale;
        }

        static long splitmix(long z) {
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            return z ^ (z >>> 31);
        }

        @Override
        public void fill(float[] dst, int len) {
            for (int i = 0; i < len; i += 2) {
                state += 0x9e3779b97f4a7c15L;
                long z = splitmix(state);
                dst[i] = ((int) (z >>> 40) - (1 << 23) + 0.5f) * amplitude;
                if (i + 1 < len) {
                    dst[i + 1] = ((int) (z & 0xffffff) - (1 << 23) + 0.5f) * amplitude;
                }
            }
            if (zeroRow != null || scaledRow >= 0) {
                for (int i = 0; i < len; i++) {
                    int row = (int) ((position + i) / rowLength);
                    if (row == scaledRow) {
                        dst[i] *= rowScale;
                    } else if (zeroRow != null && zeroRow.test(row)) {
                        dst[i] = 0f;
                    }
                }
            }
            position += len;
        }
    }

    // ------------------------------------------------------------------ JSON files

    private static ObjectNode specJson(TinyModelSpec spec) {
        ObjectNode s = JSON.createObjectNode();
        s.put("hidden", spec.hidden());
        s.put("layers", spec.layers());
        s.put("heads", spec.heads());
        s.put("kvHeads", spec.kvHeads());
        s.put("ffn", spec.ffn());
        s.put("contextLength", spec.contextLength());
        s.put("extraVocab", spec.extraVocab());
        s.put("type", spec.type().name());
        s.put("seed", spec.seed());
        if (spec.eosScale() != 0) {
            // only when set, so the metadata (and the cache check) of the non-stopping models stays as before
            s.put("eosScale", spec.eosScale());
        }
        return s;
    }

    private static ObjectNode tokenizerConfig(TinyModelSpec spec) {
        ObjectNode c = JSON.createObjectNode();
        c.put("add_bos_token", true);
        c.put("add_eos_token", false);
        ObjectNode dec = c.putObject("added_tokens_decoder");
        String[] specials = {TinyVocabulary.UNK, TinyVocabulary.BOS, TinyVocabulary.EOS};
        for (int id = 0; id < specials.length; id++) {
            ObjectNode t = dec.putObject(Integer.toString(id));
            t.put("content", specials[id]);
            t.put("lstrip", false);
            t.put("normalized", false);
            t.put("rstrip", false);
            t.put("single_word", false);
            t.put("special", true);
        }
        c.put("bos_token", TinyVocabulary.BOS);
        c.put("eos_token", TinyVocabulary.EOS);
        c.put("unk_token", TinyVocabulary.UNK);
        c.put("chat_template", LLM_JP_3_CHAT_TEMPLATE);
        c.put("clean_up_tokenization_spaces", false);
        c.put("model_max_length", spec.contextLength());
        c.put("tokenizer_class", "PreTrainedTokenizerFast");
        return c;
    }

    private static ObjectNode hfConfig(TinyModelSpec spec, TinyVocabulary vocab) {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", spec.hidden());
        c.put("intermediate_size", spec.ffn());
        c.put("num_hidden_layers", spec.layers());
        c.put("num_attention_heads", spec.heads());
        c.put("num_key_value_heads", spec.kvHeads());
        c.put("head_dim", spec.headDim());
        c.put("max_position_embeddings", spec.contextLength());
        c.put("vocab_size", vocab.size());
        c.put("rms_norm_eps", (double) RMS_NORM_EPS);
        c.put("rope_theta", (double) ROPE_FREQ_BASE);
        c.putNull("rope_scaling");
        c.put("hidden_act", "silu");
        c.put("attention_bias", false);
        c.put("attention_dropout", 0.0);
        c.put("mlp_bias", false);
        c.put("initializer_range", WEIGHT_STD);
        c.put("tie_word_embeddings", false);
        c.put("bos_token_id", TinyVocabulary.BOS_ID);
        c.put("eos_token_id", TinyVocabulary.EOS_ID);
        c.put("pretraining_tp", 1);
        c.put("use_cache", true);
        c.put("torch_dtype", spec.type().torchDtype());
        return c;
    }

    private static void writeJson(Path file, JsonNode node) throws IOException {
        Files.write(file, JSON.writeValueAsBytes(node));
    }

    // ------------------------------------------------------------------ files

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private static void deleteSiblings(Path dir, String prefix) throws IOException {
        List<Path> victims = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> p.getFileName().toString().startsWith(prefix))) {
            ds.forEach(victims::add);
        }
        for (Path p : victims) {
            deleteRecursively(p);
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> {
                try {
                    Files.deleteIfExists(x);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
