package dev.jgen.eval;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The rating in a judgment, read as FastChat's {@code run_judge_single} reads it (fastchat/llm_judge/common.py):
 * {@code re.search(one_score_pattern)}, {@code \[\[(\d+\.?\d*)\]\]}, then the backup {@code \[(\d+\.?\d*)\]}; the first
 * match's group through {@code ast.literal_eval} (an int, or a float with a dot); -1 when neither pattern matches.
 * Python's {@code \d} on text matches every Unicode decimal digit, hence UNICODE_CHARACTER_CLASS. Where
 * {@code ast.literal_eval} itself would raise (full-width digits, an integer with a leading zero such as "08"),
 * FastChat's judging thread dies; jgen scores that judgment -1 instead and keeps the matched text.
 */
public final class JudgeRating {
  private static final Pattern ONE = Pattern.compile("\\[\\[(\\d+\\.?\\d*)\\]\\]", Pattern.UNICODE_CHARACTER_CLASS);
  private static final Pattern BACKUP = Pattern.compile("\\[(\\d+\\.?\\d*)\\]", Pattern.UNICODE_CHARACTER_CLASS);
  private static final Pattern PY_INT = Pattern.compile("0+|[1-9][0-9]*");
  private static final Pattern PY_FLOAT = Pattern.compile("[0-9]+\\.[0-9]*");

  private JudgeRating() {}

  /**
   * @param score the rating, -1 when there is none
   * @param text the matched group ("8", "8.5"), null when no pattern matched
   * @param isInt whether Python reads it as an int (FastChat's JSON then holds 8, not 8.0)
   */
  public record Rating(double score, String text, boolean isInt) {}

  public static Rating parse(String judgment) {
    if (judgment == null) {
      return new Rating(-1, null, true);
    }
    Matcher m = ONE.matcher(judgment);
    if (!m.find()) {
      m = BACKUP.matcher(judgment);
      if (!m.find()) {
        return new Rating(-1, null, true);
      }
    }
    String g = m.group(1);
    if (PY_INT.matcher(g).matches()) {
      return new Rating(Double.parseDouble(g), g, true);
    }
    if (PY_FLOAT.matcher(g).matches()) {
      return new Rating(Double.parseDouble(g), g, false);
    }
    return new Rating(-1, g, true);
  }
}
