package dev.jgen.model;

import java.util.ArrayList;
import java.util.List;

/** The hand-picked candidate pieces of {@link TinyVocabulary}'s built-in list (filtered there). */
final class BuiltinPieces {

    private BuiltinPieces() {
    }

    private static final String KANJI =
            "日本人年大中出上下国会社時間事自分生行見言思手地気前後長東京学校先私今新語話書読食物方何円名度月火水木金土"
            + "山川田子女男力入口目車電道高小多少同明指示応答以説要求適切満文章約翻訳問題理由例知能情報技術研究開発経済政治"
            + "化歴史然科友達仕活域関係必可重簡単特非常最近現在一二三四五六七八九十百千万回質家族美味楽良悪場合天今昨世界"
            + "用使作業結果全体部数字意味定義入力出力表現内容記述解決方法性的者化実際対象考案計画変更確認";

    private static final String[] WORDS = {
        // chat template (llm-jp-3-instruct) and instruction vocabulary
        "###", "指示", "応答", "以下", "タスク", "説明", "要求", "適切", "満たす", "書きなさい", "する", "です",
        "入力", "出力", "文章", "要約", "翻訳", "問題", "答え", "理由", "例えば", "質問", "回答",
        // function words and endings
        "ます", "ました", "ません", "します", "しました", "して", "した", "される", "された", "という", "こと",
        "もの", "ため", "よう", "これ", "それ", "この", "その", "ある", "いる", "ない", "なる", "ている", "ています",
        "ていた", "から", "まで", "より", "など", "ので", "のは", "には", "では", "とは", "について", "による",
        "として", "ください", "お願い", "お願いします", "ありがとう", "ありがとうございます", "こんにちは", "こんばんは",
        "おはよう", "さん", "思います", "でしょう", "でした",
        // content words
        "日本", "日本語", "日本人", "東京", "世界", "今日", "明日", "昨日", "天気", "時間", "場合", "人工知能", "言語",
        "モデル", "データ", "テスト", "システム", "ユーザー", "アシスタント", "コンピュータ", "プログラム", "サーバー",
        "ファイル", "情報", "技術", "研究", "開発", "社会", "会社", "経済", "政治", "文化", "歴史", "自然", "科学",
        "学校", "先生", "学生", "家族", "友達", "仕事", "生活", "地域", "関係", "必要", "可能", "重要", "簡単", "特に",
        "非常", "最近", "現在", "以上", "一つ", "二つ", "考え", "美味しい", "楽しい", "新しい", "大きい", "小さい",
        "多い", "少ない", "良い", "悪い", "使用", "作業", "結果", "全体", "部分", "数字", "意味", "定義", "表現",
        "内容", "記述", "解決", "方法", "実際", "対象", "計画", "変更", "確認",
        // ASCII
        "▁the", "▁of", "▁and", "▁to", "▁in", "▁is", "▁that", "▁for", "▁it", "▁with", "▁as", "▁was", "▁on",
        "▁be", "▁by", "▁this", "▁are", "▁not", "▁from", "▁or", "▁at", "▁have", "▁an", "▁they", "▁which", "▁you",
        "▁we", "▁can", "▁The", "▁I", "▁a", "▁A", "▁Hello", "▁world", "▁model", "▁test", "▁data", "▁Spark", "▁Java",
        "▁token", "▁text", "▁input", "▁output", "▁answer", "▁question", "▁Japanese", "▁English",
        "ing", "ion", "tion", "ed", "er", "es", "ly", "al", "en", "ent", "▁1", "▁2", "10", "20", "▁20", "000",
        "##", "://", "),", ").", "\").", "▁(", "▁-", "▁=", "▁==",
    };

    static List<String> candidates() {
        List<String> c = new ArrayList<>();
        c.add(TinyVocabulary.SPACE);
        for (char ch = 0x21; ch < 0x7f; ch++) {
            c.add(String.valueOf(ch));
        }
        for (char ch = 0x3041; ch <= 0x3094; ch++) { // hiragana
            c.add(String.valueOf(ch));
        }
        for (char ch = 0x30A1; ch <= 0x30FC; ch++) { // katakana, ・ and ー
            c.add(String.valueOf(ch));
        }
        for (String p : new String[] {"、", "。", "「", "」", "『", "』", "（", "）", "！", "？", "：", "…", "〜", "～", "　"}) {
            c.add(p);
        }
        KANJI.codePoints().forEach(cp -> c.add(new String(Character.toChars(cp))));
        for (String w : WORDS) {
            c.add(w);
        }
        return c;
    }
}
