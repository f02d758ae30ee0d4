package dev.jgen.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Judge prompts in FastChat's {@code judge_prompts.jsonl} format ({@code name}, {@code type}, {@code system_prompt},
 * {@code prompt_template}, {@code output_format}), the four single-answer grading prompts FastChat's
 * {@code gen_judgment.py make_judge_single} takes: {@code single-v1} (turn 1), {@code single-math-v1} (turn 1 with a
 * reference), {@code single-v1-multi-turn} and {@code single-math-v1-multi-turn} (turn 2, the whole conversation).
 * Templates are filled as Python's {@code str.format} fills them ({@code {name}}, {@code {{}} and {@code }}} for braces).
 * Every problem is a config error naming the prompt, found on the driver before Spark starts: FastChat would stop
 * half-way with a KeyError instead.
 */
public final class JudgePrompts implements Serializable {
  private static final long serialVersionUID = 1L;

  public static final String SINGLE = "single-v1";
  public static final String SINGLE_REF = "single-math-v1";
  public static final String MULTI = "single-v1-multi-turn";
  public static final String MULTI_REF = "single-math-v1-multi-turn";

  /** The placeholders each prompt must hold (what FastChat's run_judge_single passes it, references aside). */
  static final Map<String, List<String>> NEEDED = Map.of(
      SINGLE, List.of("question", "answer"),
      SINGLE_REF, List.of("question", "answer", "ref_answer_1"),
      MULTI, List.of("question_1", "answer_1", "question_2", "answer_2"),
      MULTI_REF, List.of("question_1", "answer_1", "question_2", "answer_2", "ref_answer_1", "ref_answer_2"));

  /** One prompt. */
  public record Prompt(String name, String systemPrompt, String template) implements Serializable {}

  // A string, not a Path: the prompts travel to the executors inside the judge's closures.
  private final String file;
  private final Map<String, Prompt> prompts;

  private JudgePrompts(String file, Map<String, Prompt> prompts) {
    this.file = file;
    this.prompts = prompts;
  }

  public String file() {
    return file;
  }

  /** The prompt judging this turn (1: the first answer alone; 2: the two-turn conversation), with or without a reference. */
  public Prompt forTurn(int turn, boolean reference) {
    return prompts.get(turn == 1 ? (reference ? SINGLE_REF : SINGLE) : (reference ? MULTI_REF : MULTI));
  }

  /** @throws ConfigException naming the file, line and prompt for anything FastChat could not use */
  public static JudgePrompts load(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new ConfigException(ConfigKeys.JUDGE_PROMPTS + ": cannot read " + file + ": " + e.getMessage(), e);
    }
    ObjectMapper json = new ObjectMapper();
    // As FastChat's load_judge_prompts: a later line with the same name replaces an earlier one.
    Map<String, JsonNode> byName = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).isBlank()) {
        continue;
      }
      JsonNode n;
      try {
        n = json.readTree(lines.get(i));
      } catch (IOException e) {
        throw new ConfigException(ConfigKeys.JUDGE_PROMPTS + ": " + file + " line " + (i + 1) + ": not JSON: " + e.getMessage().lines().findFirst().orElse(""));
      }
      if (n == null || !n.path("name").isTextual()) {
        throw new ConfigException(ConfigKeys.JUDGE_PROMPTS + ": " + file + " line " + (i + 1) + ": no \"name\"");
      }
      byName.put(n.get("name").asText(), n);
    }
    LinkedHashMap<String, Prompt> prompts = new LinkedHashMap<>();
    for (String name : List.of(SINGLE, SINGLE_REF, MULTI, MULTI_REF)) {
      String where = ConfigKeys.JUDGE_PROMPTS + ": " + file + ": prompt " + name;
      JsonNode n = byName.get(name);
      if (n == null) {
        throw new ConfigException(where + ": missing; single-answer grading needs " + String.join(", ", List.of(SINGLE, SINGLE_REF,
            MULTI, MULTI_REF)));
      }
      if (!"single".equals(n.path("type").asText(null))) {
        throw new ConfigException(where + ": type must be \"single\" (got " + n.path("type") + ")");
      }
      if (!"[[rating]]".equals(n.path("output_format").asText(null))) {
        throw new ConfigException(where + ": output_format must be \"[[rating]]\", the only one FastChat's single grading reads (got "
            + n.path("output_format") + ")");
      }
      if (!n.path("system_prompt").isTextual() || !n.path("prompt_template").isTextual()) {
        throw new ConfigException(where + ": system_prompt and prompt_template must be strings");
      }
      String template = n.get("prompt_template").asText();
      Set<String> fields;
      try {
        fields = fields(template);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(where + ": prompt_template: " + e.getMessage());
      }
      List<String> needed = NEEDED.get(name);
      List<String> missing = needed.stream().filter(f -> !fields.contains(f)).toList();
      if (!missing.isEmpty()) {
        throw new ConfigException(where + ": prompt_template lacks the placeholder(s) " + String.join(", ",
            missing.stream().map(f -> "{" + f + "}").toList()) + " (it needs " + String.join(", ", needed.stream().map(f -> "{" + f + "}")
            .toList()) + ")");
      }
      // FastChat passes both reference turns to the reference prompts (and nothing else): any other name is a KeyError.
      Set<String> allowed = new LinkedHashSet<>(needed);
      if (name.equals(SINGLE_REF) || name.equals(MULTI_REF)) {
        allowed.addAll(List.of("ref_answer_1", "ref_answer_2"));
      }
      List<String> unknown = fields.stream().filter(f -> !allowed.contains(f)).toList();
      if (!unknown.isEmpty()) {
        throw new ConfigException(where + ": prompt_template has placeholder(s) nothing fills: " + String.join(", ",
            unknown.stream().map(f -> "{" + f + "}").toList()) + " (allowed: " + String.join(", ", allowed) + ")");
      }
      prompts.put(name, new Prompt(name, n.get("system_prompt").asText(), template));
    }
    return new JudgePrompts(file.toString(), prompts);
  }

  /** The field names of a str.format template, in order. */
  static Set<String> fields(String template) {
    Set<String> out = new LinkedHashSet<>();
    parse(template, null, out);
    return out;
  }

  /**
   * Python's {@code template.format(**values)} for plain named fields.
   *
   * @throws IllegalArgumentException for a field values lacks (Python: KeyError), or a template str.format rejects
   */
  static String format(String template, Map<String, String> values) {
    StringBuilder sb = new StringBuilder();
    parse(template, values, sb);
    return sb.toString();
  }

  private static void parse(String t, Map<String, String> values, Object sink) {
    StringBuilder out = sink instanceof StringBuilder b ? b : null;
    @SuppressWarnings("unchecked")
    Set<String> names = sink instanceof Set<?> s ? (Set<String>) s : null;
    int i = 0;
    while (i < t.length()) {
      char c = t.charAt(i);
      if (c == '{') {
        if (i + 1 < t.length() && t.charAt(i + 1) == '{') {
          if (out != null) {
            out.append('{');
          }
          i += 2;
          continue;
        }
        int end = t.indexOf('}', i);
        if (end < 0) {
          throw new IllegalArgumentException("single '{' encountered in format string (at " + i + ")");
        }
        String field = t.substring(i + 1, end);
        if (!field.matches("[A-Za-z_][A-Za-z0-9_]*")) {
          throw new IllegalArgumentException("field {" + field + "} at " + i + ": only named fields such as {question} are supported"
              + " (write {{ and }} for literal braces)");
        }
        if (names != null) {
          names.add(field);
        }
        if (out != null) {
          String v = values.get(field);
          if (v == null) {
            throw new IllegalArgumentException("no value for {" + field + "}");
          }
          out.append(v);
        }
        i = end + 1;
      } else if (c == '}') {
        if (i + 1 < t.length() && t.charAt(i + 1) == '}') {
          if (out != null) {
            out.append('}');
          }
          i += 2;
          continue;
        }
        throw new IllegalArgumentException("single '}' encountered in format string (at " + i + ")");
      } else {
        if (out != null) {
          out.append(c);
        }
        i++;
      }
    }
  }

  /** For tests and docs: the names in the order FastChat's gen_judgment uses them. */
  static List<String> names() {
    return new ArrayList<>(List.of(SINGLE, SINGLE_REF, MULTI, MULTI_REF));
  }
}
