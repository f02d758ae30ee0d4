package dev.jgen.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A small SentencePiece-style vocabulary shared, id for id, by model.gguf ({@code tokenizer.ggml.model=llama}) and
 * tokenizer.json (HF tokenizers, BPE with {@code byte_fallback}).
 *
 * <p>Ids: {@code <unk>}=0, {@code <s>}=1, {@code </s>}=2, then the 256 byte tokens {@code <0x00>}..{@code <0xFF>}
 * (ids 3..258), then the pieces: single characters first (every character of every piece is itself a piece), then longer
 * pieces by length. A space is {@code ▁}; newline and anything else unknown goes through byte fallback.
 *
 * <h2>Why BPE, and why the two tokenizers agree</h2>
 * llama.cpp tokenizes a {@code llama} (SPM) vocabulary by greedy bigram merging: start from single characters, repeatedly
 * merge the adjacent pair whose concatenation is a token with the highest score (leftmost on ties), then byte-fallback any
 * character that is not a token. HF's BPE model does the same with a merge list: start from characters (byte fallback first),
 * repeatedly apply the merge of lowest rank (leftmost on ties). HF's Unigram model instead takes the Viterbi best
 * segmentation, which a greedy merger does not reproduce, so a Unigram tokenizer.json would disagree with llama.cpp.
 * The two greedy algorithms are identical when (1) every token's score order equals its merge's rank order (score = -id,
 * merges listed in id order) and (2) every multi-character piece has exactly one split into two pieces, so merges and
 * tokens correspond one to one. The builder enforces (2), dropping pieces that would break it, with one provably safe
 * exception: runs of one character ({@code ##}, {@code ###}) whose character occurs in no other multi-character piece
 * (each run is then merged left to right in both tokenizers, whatever the split). Normalization is the same on both sides:
 * llama.cpp prepends a space and replaces spaces with {@code ▁}; tokenizer.json has Prepend(▁) + Replace(" ", ▁).
 */
public final class TinyVocabulary {

    public static final String UNK = "<unk>";
    public static final String BOS = "<s>";
    public static final String EOS = "</s>";
    public static final int UNK_ID = 0;
    public static final int BOS_ID = 1;
    public static final int EOS_ID = 2;
    public static final int FIRST_BYTE_ID = 3;
    public static final int FIRST_PIECE_ID = FIRST_BYTE_ID + 256;
    public static final String SPACE = "\u2581";

    /** llama.cpp token types (tokenizer.ggml.token_type). */
    public static final int TYPE_NORMAL = 1;
    public static final int TYPE_UNKNOWN = 2;
    public static final int TYPE_CONTROL = 3;
    public static final int TYPE_BYTE = 6;

    private static volatile List<String> builtin;

    private final List<String> tokens;
    private final float[] scores;
    private final int[] types;
    private final List<String> merges;

    private TinyVocabulary(List<String> tokens, float[] scores, int[] types, List<String> merges) {
        this.tokens = tokens;
        this.scores = scores;
        this.types = types;
        this.merges = merges;
    }

    /** The vocabulary for {@code extraVocab} pieces beyond specials and bytes (0 = the built-in list). */
    public static TinyVocabulary build(int extraVocab) {
        List<String> pieces = new ArrayList<>(builtinPieces());
        if (extraVocab > 0 && extraVocab < pieces.size()) {
            pieces = pieces.subList(0, extraVocab); // parts always precede wholes, so a prefix stays closed
        } else if (extraVocab > pieces.size()) {
            addSynthetic(pieces, extraVocab);
        }
        List<String> tokens = new ArrayList<>(FIRST_PIECE_ID + pieces.size());
        tokens.add(UNK);
        tokens.add(BOS);
        tokens.add(EOS);
        for (int b = 0; b < 256; b++) {
            tokens.add(byteToken(b));
        }
        tokens.addAll(pieces);
        int n = tokens.size();
        float[] scores = new float[n];
        int[] types = new int[n];
        types[UNK_ID] = TYPE_UNKNOWN;
        types[BOS_ID] = TYPE_CONTROL;
        types[EOS_ID] = TYPE_CONTROL;
        for (int i = FIRST_BYTE_ID; i < FIRST_PIECE_ID; i++) {
            types[i] = TYPE_BYTE;
        }
        for (int i = FIRST_PIECE_ID; i < n; i++) {
            types[i] = TYPE_NORMAL;
            scores[i] = -(float) i; // higher score = merged earlier = lower BPE rank
        }
        Map<String, Integer> ids = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            if (ids.put(tokens.get(i), i) != null) {
                throw new IllegalStateException("duplicate token " + tokens.get(i));
            }
        }
        List<String> merges = new ArrayList<>();
        for (int i = FIRST_PIECE_ID; i < n; i++) {
            String t = tokens.get(i);
            int[] cps = t.codePoints().toArray();
            for (int k = 1; k < cps.length; k++) {
                String left = new String(cps, 0, k);
                String right = new String(cps, k, cps.length - k);
                Integer l = ids.get(left);
                Integer r = ids.get(right);
                if (l != null && r != null && l >= FIRST_PIECE_ID && r >= FIRST_PIECE_ID) {
                    merges.add(left + " " + right);
                }
            }
        }
        return new TinyVocabulary(Collections.unmodifiableList(tokens), scores, types,
                Collections.unmodifiableList(merges));
    }

    public static String byteToken(int b) {
        return String.format(Locale.ROOT, "<0x%02X>", b);
    }

    public int size() {
        return tokens.size();
    }

    public List<String> tokens() {
        return tokens;
    }

    public float[] scores() {
        return scores.clone();
    }

    public int[] tokenTypes() {
        return types.clone();
    }

    /** BPE merges ("left right"), in rank order. */
    public List<String> merges() {
        return merges;
    }

    /** tokenizer.json (HF tokenizers), Llama-2 style: BPE + byte fallback, Prepend/Replace normalizer, no pre-tokenizer. */
    public ObjectNode tokenizerJson(ObjectMapper mapper) {
        ObjectNode root = mapper.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id : new int[] {UNK_ID, BOS_ID, EOS_ID}) {
            ObjectNode t = added.addObject();
            t.put("id", id);
            t.put("content", tokens.get(id));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer");
        normalizer.put("type", "Sequence");
        ArrayNode norms = normalizer.putArray("normalizers");
        norms.addObject().put("type", "Prepend").put("prepend", SPACE);
        ObjectNode replace = norms.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", SPACE);
        root.putNull("pre_tokenizer");

        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bosSpecial = post.putObject("special_tokens").putObject(BOS);
        bosSpecial.put("id", BOS);
        bosSpecial.putArray("ids").add(BOS_ID);
        bosSpecial.putArray("tokens").add(BOS);

        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "Sequence");
        ArrayNode decs = decoder.putArray("decoders");
        ObjectNode rep = decs.addObject().put("type", "Replace");
        rep.putObject("pattern").put("String", SPACE);
        rep.put("content", " ");
        decs.addObject().put("type", "ByteFallback");
        decs.addObject().put("type", "Fuse");
        decs.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", UNK);
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < tokens.size(); i++) {
            vocab.put(tokens.get(i), i);
        }
        ArrayNode m = model.putArray("merges");
        for (String s : merges) {
            m.add(s);
        }
        return root;
    }

    // ------------------------------------------------------------------ building

    /** Number of built-in pieces (extraVocab 0). */
    public static int builtinPieceCount() {
        return builtinPieces().size();
    }

    /** The built-in pieces after filtering, singles first, then by length. */
    static List<String> builtinPieces() {
        List<String> b = builtin;
        if (b == null) {
            b = Collections.unmodifiableList(filter(BuiltinPieces.candidates()));
            builtin = b;
        }
        return b;
    }

    /**
     * Keeps every character of every candidate as a single piece, then adds the multi-character candidates, shortest
     * first, while the set stays <em>unambiguous</em>: every multi-character piece has exactly one split into two pieces of
     * the set, or is a run of one character that occurs in no other multi-character piece. A candidate with no split gets
     * the chain of its prefixes (or else suffixes) added with it, when that keeps the set unambiguous; otherwise it is
     * dropped. Result: singles in first-seen order, then longer pieces by length (so parts always precede wholes).
     */
    static List<String> filter(List<String> candidates) {
        LinkedHashSet<String> singles = new LinkedHashSet<>();
        List<String> multi = new ArrayList<>();
        for (String c : candidates) {
            if (c.isEmpty() || c.contains(" ") || c.startsWith("<") && c.codePointCount(0, c.length()) > 1) {
                throw new IllegalArgumentException("bad piece '" + c + "'");
            }
            c.codePoints().forEach(cp -> singles.add(new String(Character.toChars(cp))));
            if (c.codePointCount(0, c.length()) > 1 && !multi.contains(c)) {
                multi.add(c);
            }
        }
        multi.sort(java.util.Comparator.comparingInt(s -> s.codePointCount(0, s.length()))); // stable
        Set<String> kept = new LinkedHashSet<>(singles);
        for (String w : multi) {
            if (kept.contains(w)) {
                continue;
            }
            int[] cps = w.codePoints().toArray();
            List<List<String>> options = new ArrayList<>();
            options.add(List.of(w));
            List<String> prefixes = new ArrayList<>();
            List<String> suffixes = new ArrayList<>();
            for (int k = cps.length; k >= 2; k--) {
                prefixes.add(new String(cps, 0, k));
                suffixes.add(new String(cps, cps.length - k, k));
            }
            options.add(prefixes);
            options.add(suffixes);
            for (List<String> add : options) {
                Set<String> trial = new LinkedHashSet<>(kept);
                trial.addAll(add);
                if (unambiguous(trial)) {
                    kept = trial;
                    break;
                }
            }
        }
        List<String> result = new ArrayList<>(kept);
        result.sort(java.util.Comparator.comparingInt(s -> s.codePointCount(0, s.length()))); // stable
        return result;
    }

    /** True when every multi-character piece has exactly one split, or is a safe run (see {@link #filter}). */
    static boolean unambiguous(Set<String> pieces) {
        Set<Integer> mixed = new java.util.HashSet<>();
        for (String p : pieces) {
            if (p.codePointCount(0, p.length()) > 1 && !isRun(p)) {
                p.codePoints().forEach(mixed::add);
            }
        }
        for (String p : pieces) {
            int[] cps = p.codePoints().toArray();
            if (cps.length < 2) {
                continue;
            }
            int splits = 0;
            for (int k = 1; k < cps.length; k++) {
                if (pieces.contains(new String(cps, 0, k)) && pieces.contains(new String(cps, k, cps.length - k))) {
                    splits++;
                }
            }
            boolean ok = splits == 1 || (splits > 1 && isRun(p) && !mixed.contains(cps[0]));
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static boolean isRun(String s) {
        int first = s.codePointAt(0);
        return s.codePoints().allMatch(cp -> cp == first);
    }

    /**
     * Pads with synthetic pieces up to {@code total}: CJK ideographs not yet present as single pieces, then two-character
     * pieces made of those ideographs only, neighbours in code point order first (each has exactly one split and
     * shares no character with a built-in piece).
     */
    private static void addSynthetic(List<String> pieces, int total) {
        Set<String> present = new java.util.HashSet<>(pieces);
        List<String> chars = new ArrayList<>();
        for (int cp = 0x4E00; cp <= 0x9FFF; cp++) {
            String s = new String(Character.toChars(cp));
            if (!present.contains(s)) {
                chars.add(s);
            }
        }
        for (String c : chars) {
            if (pieces.size() >= total) {
                return;
            }
            pieces.add(c);
        }
        int n = chars.size();
        for (int d = 1; d < n; d++) { // (c[i], c[i+d]): first the neighbours, then the next-but-one, ...
            for (int i = 0; i < n; i++) {
                if (pieces.size() >= total) {
                    return;
                }
                pieces.add(chars.get(i) + chars.get((i + d) % n));
            }
        }
        throw new IllegalArgumentException("cannot pad the vocabulary to " + total + " pieces");
    }
}
