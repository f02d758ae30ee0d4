package dev.jgen.eval;

import dev.jgen.config.ConfigException;
import dev.jgen.config.ConfigKeys;
import dev.jgen.prompt.SteerLmAttributes;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A scoring rubric ({@code score.rubric}): a text file holding one prompt template, filled as Python's
 * {@code str.format} fills FastChat's judge prompts ({@link JudgePrompts#format}; {@code {{} and {@code }}} for
 * braces). {@code {instruction}} and {@code {response}} are required; {@code {system}} and the SteerLM attribute
 * names ({@code {helpfulness}}, ...) may be used. Every problem is a config error naming the file, found before Spark
 * starts.
 */
public final class ScoreRubric implements Serializable {
  private static final long serialVersionUID = 1L;

  static final List<String> NEEDED = List.of("instruction", "response");

  private final String file;
  private final String template;
  private final Set<String> fields;

  private ScoreRubric(String file, String template, Set<String> fields) {
    this.file = file;
    this.template = template;
    this.fields = fields;
  }

  public String file() {
    return file;
  }

  public String template() {
    return template;
  }

  /** The placeholders the rubric reads, in order. */
  public Set<String> fields() {
    return fields;
  }

  /** @throws ConfigException naming the file and the placeholder it lacks or that nothing fills */
  public static ScoreRubric load(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new ConfigException(ConfigKeys.SCORE_RUBRIC + ": cannot read " + file + ": " + e.getMessage(), e);
    }
    String where = ConfigKeys.SCORE_RUBRIC + ": " + file;
    if (text.isBlank()) {
      throw new ConfigException(where + ": empty");
    }
    Set<String> fields;
    try {
      fields = JudgePrompts.fields(text);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(where + ": " + e.getMessage());
    }
    List<String> missing = NEEDED.stream().filter(f -> !fields.contains(f)).toList();
    if (!missing.isEmpty()) {
      throw new ConfigException(where + ": lacks the placeholder(s) " + String.join(", ", missing.stream().map(f -> "{" + f + "}")
          .toList()) + " (a rubric needs {instruction} and {response})");
    }
    Set<String> allowed = new LinkedHashSet<>(NEEDED);
    allowed.add("system");
    allowed.addAll(SteerLmAttributes.NAMES);
    List<String> unknown = fields.stream().filter(f -> !allowed.contains(f)).toList();
    if (!unknown.isEmpty()) {
      throw new ConfigException(where + ": has placeholder(s) nothing fills: " + String.join(", ", unknown.stream().map(f -> "{" + f
          + "}").toList()) + " (allowed: " + String.join(", ", allowed) + ")");
    }
    return new ScoreRubric(file.toString(), text, fields);
  }

  /**
   * The rubric filled with a row's values.
   *
   * @throws IllegalArgumentException naming a placeholder the row has no value for (an attribute it lacks)
   */
  public String fill(Map<String, String> values) {
    List<String> lacking = new ArrayList<>();
    for (String f : fields) {
      if (values.get(f) == null) {
        lacking.add("{" + f + "}");
      }
    }
    if (!lacking.isEmpty()) {
      throw new IllegalArgumentException("the rubric reads " + String.join(", ", lacking) + ", which the row has no value for");
    }
    return JudgePrompts.format(template, values);
  }
}
