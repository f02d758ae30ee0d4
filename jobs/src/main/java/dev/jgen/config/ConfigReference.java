package dev.jgen.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders {@code docs/configuration.md} from {@link ConfigKeys}: every key with its type, default, allowed values and
 * description. The allowed values are what the key's own check answers for a value outside them, so the page says what
 * the loader enforces. {@code bin/docs} runs {@link #main} to rewrite the page; {@code ConfigReferenceTest} fails when
 * the committed page differs from {@link #render()}.
 */
public final class ConfigReference {
  /** The page, relative to the repository root. */
  public static final String PAGE = "docs/configuration.md";

  private ConfigReference() {}

  /** {@code ConfigReference [FILE]}: writes the page to FILE (default {@value #PAGE}). */
  public static void main(String[] args) throws IOException {
    Path out = Path.of(args.length > 0 ? args[0] : PAGE);
    Files.writeString(out, render(), StandardCharsets.UTF_8);
    System.out.println("wrote " + out);
  }

  /** The whole page, Markdown. */
  public static String render() {
    StringBuilder sb = new StringBuilder();
    sb.append("# Configuration reference\n\n");
    sb.append("<!-- Generated from dev.jgen.config.ConfigKeys by bin/docs. Do not edit: change ConfigKeys and run bin/docs. -->\n\n");
    sb.append("""
        A job is configured by a YAML file (`bin/jgen generate --config FILE`) and `--set key=value` options, which win over
        the file. Keys are written flat (`generation.max_new_tokens: 64`) or nested (`generation: {max_new_tokens: 64}`).
        `--set key=` (empty) unsets a key the file set. A mapping key also takes sub-keys from `--set`:
        `--set spark.conf.spark.sql.shuffle.partitions=8`.

        An unknown key, a value of the wrong type or outside its allowed values stops the command before Spark starts, with
        one line naming the key (exit code 2). `input.path` and `output.path` are required, and `model.id` or `model.path`
        (for `job.kind=judge`: `judge.model.id` or `judge.model.path`; for `job.kind=score`: `score.model.id` or `score.model.path`). `bin/jgen generate --help` prints the same keys.

        Default `-`: unset; the description says what applies then. Types: `string`; `integer`; `number`; `boolean`
        (`true`/`false`, `yes`/`no`, `1`/`0`); `list` (a YAML list, or comma-separated with `--set`); `mapping` (a YAML
        mapping); `mapping or text` (a YAML mapping, JSON text, or `@path/to/file.json`).

        """);
    Map<String, List<ConfigKey>> groups = new LinkedHashMap<>();
    for (ConfigKey k : ConfigKeys.all().values()) {
      groups.computeIfAbsent(group(k.name()), g -> new java.util.ArrayList<>()).add(k);
    }
    for (Map.Entry<String, List<ConfigKey>> g : groups.entrySet()) {
      sb.append("## `").append(g.getKey()).append(".*`\n\n");
      sb.append("| key | type | default | allowed | description |\n");
      sb.append("|---|---|---|---|---|\n");
      for (ConfigKey k : g.getValue()) {
        sb.append("| `").append(k.name()).append("` | ").append(type(k.type())).append(" | ").append(dflt(k.defaultValue()))
            .append(" | ").append(cell(allowed(k))).append(" | ").append(cell(k.description())).append(" |\n");
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  /** engine.djl.* and engine.trtllm.* are groups of their own; every other key groups by its first part. */
  static String group(String name) {
    String[] parts = name.split("\\.");
    if (parts.length >= 3 && parts[0].equals("engine")) {
      return parts[0] + "." + parts[1];
    }
    return parts[0];
  }

  private static String type(ConfigKey.Type t) {
    return switch (t) {
      case STRING -> "string";
      case INT, LONG -> "integer";
      case DOUBLE -> "number";
      case BOOLEAN -> "boolean";
      case STRING_LIST -> "list";
      case MAP -> "mapping";
      case JSON -> "mapping or text";
    };
  }

  private static String dflt(Object v) {
    if (v == null) {
      return "-";
    }
    if (v instanceof List<?> l) {
      return l.isEmpty() ? "`[]`" : "`" + cell(String.join(", ", l.stream().map(String::valueOf).toList())) + "`";
    }
    if (v instanceof Map<?, ?> m) {
      return m.isEmpty() ? "`{}`" : "`" + cell(m.toString()) + "`";
    }
    return "`" + cell(String.valueOf(v)) + "`";
  }

  /**
   * What the key's check accepts, as its own message says it for a value outside: "a \| b" for a list of allowed values,
   * ">= 0", "> 0", "(0, 1]", "not empty"; empty where anything of the type is accepted.
   */
  static String allowed(ConfigKey k) {
    if (k.type() == ConfigKey.Type.BOOLEAN) {
      return "true | false";
    }
    if (k.check() == null) {
      return "";
    }
    Object probe = switch (k.type()) {
      case STRING -> "\u0000";
      case INT -> Integer.MIN_VALUE;
      case LONG -> Long.MIN_VALUE;
      case DOUBLE -> -Double.MAX_VALUE;
      default -> null;
    };
    String message = probe == null ? null : ask(k, probe);
    if (message == null && k.type() == ConfigKey.Type.STRING) {
      message = ask(k, " ");
    }
    if (message == null) {
      return "";
    }
    if (message.startsWith("must be one of ")) {
      return message.substring("must be one of ".length());
    }
    if (message.equals("must not be empty")) {
      return "not empty";
    }
    if (message.startsWith("must be in ")) {
      return message.substring("must be in ".length());
    }
    if (message.startsWith("must be ")) {
      return message.substring("must be ".length());
    }
    return message;
  }

  private static String ask(ConfigKey k, Object probe) {
    try {
      return k.check().apply(probe);
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Text for a Markdown table cell: pipes escaped, no line breaks. */
  private static String cell(String s) {
    return s.replace("|", "\\|").replace("\n", " ");
  }
}
