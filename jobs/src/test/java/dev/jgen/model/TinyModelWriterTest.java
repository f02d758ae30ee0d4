package dev.jgen.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.LogFormat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Writes tiny models and loads them in both engines' tokenizers and in llama.cpp.
 *
 * <p>JVM requirements: java-llama.cpp deletes every file named {@code llama*} or {@code jllama*} in its temp directory
 * when its class is first loaded, so run the test JVM with {@code -Dde.kherud.llama.tmpdir=<a private dir>} (when the
 * property is missing, this class sets it to a fresh private directory before llama.cpp is loaded). DJL tokenizers must
 * never try to download a native library: run with {@code DJL_OFFLINE=true RUST_FLAVOR=cpu} in the environment; the
 * equivalent system properties are set here too.
 */
class TinyModelWriterTest {

    static {
        if (System.getProperty("de.kherud.llama.tmpdir") == null) {
            try {
                System.setProperty("de.kherud.llama.tmpdir", Files.createTempDirectory("jgen-jllama-").toString());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("RUST_FLAVOR", "cpu");
    }

    static final List<String> TEXTS = List.of(
            "こんにちは、世界！",
            "日本の首都は東京です。",
            "Hello world, this is a test.",
            "日本語のテキストと English text を混ぜた文章です。2025年10月",
            "絵文字😀🎉も大丈夫？",
            "一行目\n二行目\n\n### 指示:\n以下の文章を要約してください。",
            "  leading spaces and trailing ",
            "#####",
            "Ünïcödé ½ 한국어 中文 κόσμε",
            "以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。\n\n### 指示:\n質問に答えて\n\n### 応答:\n");

    @TempDir
    static Path tmp;
    static Path tinyDir;

    @BeforeAll
    static void writeTiny() throws IOException {
        LlamaModel.setLogger(LogFormat.TEXT, (level, message) -> { });
        tinyDir = TinyModelWriter.write(tmp.resolve("tiny"), TinyModelSpec.tiny());
    }

    static LlamaModel load(Path dir) {
        return new LlamaModel(new ModelParameters()
                .setModel(dir.resolve(TinyModelWriter.GGUF_FILE).toString())
                .setCtxSize(512)
                .setThreads(2)
                .disableLog());
    }

    @Test
    void writesAllFiles() throws IOException {
        for (String f : List.of("model.gguf", "tokenizer.json", "tokenizer_config.json", "config.json", "jgen-model.json")) {
            assertTrue(Files.size(tinyDir.resolve(f)) > 0, f);
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode cfg = json.readTree(tinyDir.resolve("config.json").toFile());
        assertEquals("LlamaForCausalLM", cfg.get("architectures").get(0).asText());
        assertEquals(64, cfg.get("hidden_size").asInt());
        assertEquals(2, cfg.get("num_key_value_heads").asInt());
        assertEquals(TinyModelSpec.tiny().vocabSize(), cfg.get("vocab_size").asInt());
        JsonNode tc = json.readTree(tinyDir.resolve("tokenizer_config.json").toFile());
        assertEquals("<s>", tc.get("bos_token").asText());
        assertTrue(tc.get("add_bos_token").asBoolean());
        assertFalse(tc.get("add_eos_token").asBoolean());
        assertEquals(TinyModelWriter.LLM_JP_3_CHAT_TEMPLATE, tc.get("chat_template").asText());
        Path real = Paths.get("../conf/templates/llm-jp-3-instruct/tokenizer_config.json");
        if (Files.exists(real)) {
            assertEquals(json.readTree(real.toFile()).get("chat_template").asText(), TinyModelWriter.LLM_JP_3_CHAT_TEMPLATE);
        }
        JsonNode meta = json.readTree(tinyDir.resolve("jgen-model.json").toFile());
        assertEquals(sha256(tinyDir.resolve("model.gguf")), meta.get("gguf").get("sha256").asText());
        assertEquals(Files.size(tinyDir.resolve("model.gguf")), meta.get("gguf").get("bytes").asLong());
        assertEquals(TinyModelWriter.layout(TinyModelSpec.tiny()).fileBytes(), Files.size(tinyDir.resolve("model.gguf")));
        // tokenizer.json's vocabulary is the GGUF's, id for id
        JsonNode vocab = json.readTree(tinyDir.resolve("tokenizer.json").toFile()).get("model").get("vocab");
        List<String> tokens = TinyVocabulary.build(0).tokens();
        assertEquals(tokens.size(), vocab.size());
        for (int i = 0; i < tokens.size(); i++) {
            assertEquals(i, vocab.get(tokens.get(i)).asInt(), tokens.get(i));
        }
    }

    @Test
    void llamaCppAndHfTokenizersAgree() throws IOException {
        try (LlamaModel model = load(tinyDir);
             HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(tinyDir.resolve("tokenizer.json"))) {
            for (String text : TEXTS) {
                long[] hfIds = hf.encode(text, false, false).getIds();
                long[] llamaIds = Arrays.stream(model.encode(text)).asLongStream().toArray();
                assertArrayEquals(hfIds, llamaIds, text);
                assertEquals(text, hf.decode(hfIds, true), "HF decode " + text);
                // llama.cpp's piece concatenation keeps SentencePiece's prefix space
                assertEquals(" " + text, model.decode(model.encode(text)), "llama.cpp decode " + text);
                long[] withSpecial = hf.encode(text).getIds();
                assertEquals(TinyVocabulary.BOS_ID, withSpecial[0]);
                assertArrayEquals(hfIds, Arrays.copyOfRange(withSpecial, 1, withSpecial.length));
            }
            // the template's pieces are whole tokens
            long[] ids = hf.encode("### 指示", false, false).getIds();
            assertEquals(4, ids.length, Arrays.toString(ids)); // ▁ ### ▁ 指示
        }
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void llamaCppGeneratesRequestedTokens(TensorType type) throws IOException {
        Path dir = type == TensorType.F32 ? tinyDir : TinyModelWriter.write(tmp.resolve("tiny-" + type), TinyModelSpec.tiny().withType(type));
        int nPredict = 12;
        try (LlamaModel model = load(dir)) {
            InferenceParameters params = new InferenceParameters("日本の首都は").setNPredict(nPredict).setTemperature(0f)
                    .setCachePrompt(false); // a re-used prompt evaluates its last token alone: other kernel, other rounding
            String completed = model.complete(params);
            assertFalse(completed.isEmpty());
            List<String> pieces = new ArrayList<>();
            for (LlamaOutput out : model.generate(params)) {
                if (!out.text.isEmpty()) { // the last, stopping message carries no text
                    pieces.add(out.text);
                }
            }
            assertEquals(nPredict, pieces.size(), pieces.toString());
            assertEquals(completed, String.join("", pieces), "greedy decoding is deterministic");
        }
    }

    /** The llm-jp-3-sized vocabulary (99,584 tokens with synthetic pieces) on a small Q4_0 model. */
    @Test
    void bigVocabularyAgreesAndGenerates() throws IOException {
        TinyModelSpec spec = new TinyModelSpec(64, 1, 4, 2, 128, 512,
                TinyModelSpec.llmJp3_1_8bShape().extraVocab(), TensorType.Q4_0, 5L);
        Path dir = TinyModelWriter.write(tmp.resolve("bigvocab"), spec);
        try (LlamaModel model = load(dir);
             HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"))) {
            for (String text : TEXTS) {
                long[] hfIds = hf.encode(text, false, false).getIds();
                assertArrayEquals(hfIds, Arrays.stream(model.encode(text)).asLongStream().toArray(), text);
                assertEquals(text, hf.decode(hfIds, true));
            }
            String text = "丐丑丒专且丕世丗丘丙業丛东丝丞丟丠両丢丣两严並丧丨丩个丫丬中丮丯丰丱串";
            long[] hfIds = hf.encode(text, false, false).getIds();
            assertArrayEquals(hfIds, Arrays.stream(model.encode(text)).asLongStream().toArray(), text);
            assertTrue(hfIds.length < 30, "synthetic two-character pieces are used: " + Arrays.toString(hfIds));
            String out = model.complete(new InferenceParameters("日本").setNPredict(8).setTemperature(0f));
            assertFalse(out.isEmpty());
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
        Path again = TinyModelWriter.write(tmp.resolve("again"), TinyModelSpec.tiny());
        assertEquals(sha256(tinyDir.resolve("model.gguf")), sha256(again.resolve("model.gguf")));
        assertEquals(Files.readString(tinyDir.resolve("tokenizer.json")), Files.readString(again.resolve("tokenizer.json")));
        Path other = TinyModelWriter.write(tmp.resolve("other"), TinyModelSpec.tiny().withSeed(7));
        assertNotEquals(sha256(tinyDir.resolve("model.gguf")), sha256(other.resolve("model.gguf")));
        assertEquals(Files.size(tinyDir.resolve("model.gguf")), Files.size(other.resolve("model.gguf")));
    }

    @Test
    void ensureWritesOnceAndRewritesStale() throws Exception {
        Path cache = tmp.resolve("cache");
        TinyModelSpec spec = TinyModelSpec.tiny().withSeed(3);
        // concurrent callers get the same, complete directory
        ExecutorService pool = Executors.newFixedThreadPool(3);
        List<Future<Path>> futures = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            futures.add(pool.submit(() -> TinyModelWriter.ensure(cache, spec)));
        }
        Path dir = futures.get(0).get();
        for (Future<Path> f : futures) {
            assertEquals(dir, f.get());
        }
        pool.shutdown();
        assertEquals(cache.resolve(spec.name()).toAbsolutePath().normalize(), dir);
        assertTrue(TinyModelWriter.isCurrent(dir, spec));
        try (var s = Files.list(cache)) {
            assertEquals(List.of(spec.name()), s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".lock")).toList());
        }

        Path gguf = dir.resolve("model.gguf");
        FileTime old = FileTime.fromMillis(1_000_000L);
        Files.setLastModifiedTime(gguf, old);
        assertEquals(dir, TinyModelWriter.ensure(cache, spec));
        assertEquals(old, Files.getLastModifiedTime(gguf), "cached model reused");

        // a different spec is another directory; a stale one is rewritten
        assertNotEquals(dir, TinyModelWriter.ensure(cache, spec.withSeed(4)));
        Path meta = dir.resolve("jgen-model.json");
        Files.writeString(meta, Files.readString(meta).replace("\"writerVersion\" : " + TinyModelWriter.WRITER_VERSION,
                "\"writerVersion\" : 0"));
        assertFalse(TinyModelWriter.isCurrent(dir, spec));
        assertEquals(dir, TinyModelWriter.ensure(cache, spec));
        assertTrue(TinyModelWriter.isCurrent(dir, spec));
        assertNotEquals(old, Files.getLastModifiedTime(gguf));
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
