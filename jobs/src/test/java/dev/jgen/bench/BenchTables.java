package dev.jgen.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The tables of {@code docs/benchmarks.md}, rendered from the benchmark records committed under {@code docs/bench/}.
 * In the page, each table sits between {@code <!-- bench: NAME.json -->} and {@code <!-- /bench -->}; everything between
 * the two markers is this class's output for {@code docs/bench/NAME.json} (its run: date, commit, machine, command; the
 * table; summaries computed from the rows). {@code bin/docs} rewrites the page; {@code BenchTablesTest} fails when a
 * table differs from its record or a record has no table.
 *
 * <p>A record: {@code title, date, commit, machine, command, recorded} (how the figures reached the record), optional
 * {@code settings, commit_note}; {@code columns} ({@code key, label}, optional {@code decimals}); {@code rows} (values:
 * numbers, strings, lists of numbers, or absent for "-"); optional {@code summaries} ({@code label, where} (column values
 * a row must have), {@code column, at_least}); optional {@code excerpt} (lines as printed) with {@code excerpt_title}.
 */
public final class BenchTables {
  public static final String PAGE = "docs/benchmarks.md";
  public static final String RECORDS = "docs/bench";
  static final Pattern BLOCK = Pattern.compile("(?s)<!-- bench: ([A-Za-z0-9._-]+\\.json) -->\\n(.*?)<!-- /bench -->");
  private static final ObjectMapper JSON = new ObjectMapper();

  private BenchTables() {}

  /** {@code BenchTables [ROOT]}: rewrites the tables of ROOT/docs/benchmarks.md (ROOT default: the working directory). */
  public static void main(String[] args) throws IOException {
    Path root = Path.of(args.length > 0 ? args[0] : ".");
    Path page = root.resolve(PAGE);
    String text = Files.readString(page, StandardCharsets.UTF_8);
    Files.writeString(page, regenerate(text, root.resolve(RECORDS)), StandardCharsets.UTF_8);
    System.out.println("wrote the tables of " + page);
  }

  /** The page with every block between markers replaced by its record's rendering. */
  public static String regenerate(String page, Path records) throws IOException {
    Matcher m = BLOCK.matcher(page);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String name = m.group(1);
      String block = "<!-- bench: " + name + " -->\n" + render(name, JSON.readTree(records.resolve(name).toFile())) + "<!-- /bench -->";
      m.appendReplacement(sb, Matcher.quoteReplacement(block));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  /** The record names the page has blocks for, in page order. */
  public static List<String> blocks(String page) {
    List<String> names = new ArrayList<>();
    Matcher m = BLOCK.matcher(page);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  static String render(String name, JsonNode r) {
    StringBuilder sb = new StringBuilder();
    sb.append("\n**").append(text(r, "title")).append("**. ");
    sb.append(text(r, "date")).append("; commit ").append(text(r, "commit"));
    if (r.hasNonNull("commit_note")) {
      sb.append(" (").append(text(r, "commit_note")).append(')');
    }
    sb.append("; ").append(text(r, "machine")).append(".\n");
    sb.append("Command: `").append(text(r, "command")).append("`.");
    if (r.hasNonNull("settings")) {
      sb.append(' ').append(text(r, "settings")).append('.');
    }
    sb.append("\nRecord: [`").append(RECORDS).append('/').append(name).append("`](bench/").append(name).append("), ")
        .append(text(r, "recorded")).append(".\n\n");
    List<JsonNode> columns = new ArrayList<>();
    r.path("columns").forEach(columns::add);
    StringBuilder head = new StringBuilder("|");
    StringBuilder rule = new StringBuilder("|");
    for (JsonNode c : columns) {
      head.append(' ').append(cell(c.path("label").asText())).append(" |");
      rule.append(c.has("decimals") ? "---:|" : "---|");
    }
    sb.append(head).append('\n').append(rule).append('\n');
    for (JsonNode row : r.path("rows")) {
      sb.append('|');
      for (JsonNode c : columns) {
        sb.append(' ').append(cell(value(row.get(c.path("key").asText()), c))).append(" |");
      }
      sb.append('\n');
    }
    if (r.path("summaries").size() > 0) {
      sb.append('\n');
    }
    for (JsonNode s : r.path("summaries")) {
      sb.append(summary(r, s));
    }
    if (r.has("excerpt")) {
      sb.append("\n").append(text(r, "excerpt_title")).append("\n\n```\n");
      r.path("excerpt").forEach(l -> sb.append(l.asText()).append('\n'));
      sb.append("```\n");
    }
    sb.append('\n');
    return sb.toString();
  }

  /** "label: N of M runs at or above X (median Y)", computed from the rows that match {@code where}. */
  static String summary(JsonNode r, JsonNode s) {
    String column = s.path("column").asText();
    double threshold = s.path("at_least").asDouble();
    List<Double> values = new ArrayList<>();
    for (JsonNode row : r.path("rows")) {
      boolean match = true;
      for (Iterator<Map.Entry<String, JsonNode>> it = s.path("where").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> w = it.next();
        match &= w.getValue().equals(row.get(w.getKey()));
      }
      if (match && row.hasNonNull(column)) {
        values.add(row.get(column).asDouble());
      }
    }
    long above = values.stream().filter(v -> v >= threshold).count();
    List<Double> sorted = values.stream().sorted().toList();
    int n = sorted.size();
    double median = n == 0 ? Double.NaN : n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    return String.format(Locale.ROOT, "- %s: %d of %d runs at or above %s (median %.4f).\n", s.path("label").asText(), above, n,
        s.path("at_least").asText(), median);
  }

  private static String value(JsonNode v, JsonNode column) {
    if (v == null || v.isNull()) {
      return "-";
    }
    if (v.isArray()) {
      List<String> parts = new ArrayList<>();
      v.forEach(x -> parts.add(value(x, column)));
      return String.join(" ", parts);
    }
    if (v.isNumber() && column.has("decimals")) {
      return String.format(Locale.ROOT, "%." + column.get("decimals").asInt() + "f", v.asDouble());
    }
    return v.asText();
  }

  private static String text(JsonNode r, String field) {
    if (!r.hasNonNull(field)) {
      throw new IllegalArgumentException("benchmark record without '" + field + "'");
    }
    return r.get(field).asText();
  }

  private static String cell(String s) {
    return s.replace("|", "\\|");
  }
}
