package dev.jgen.structured;

import com.networknt.schema.Error;
import java.util.List;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

/**
 * Checks every constrained output on our side, whatever the engine promised: a server may ignore a field, a grammar may
 * be cut off at max_new_tokens, and a schema keyword may be beyond what the engine's grammar converter enforces.
 *
 * <ul>
 *   <li>json_schema: the output must be exactly one JSON value (surrounding whitespace allowed) that validates; the
 *       result carries it as compact JSON in its generated member order ({@code output_json}).
 *   <li>choice: the output must equal one of the allowed strings exactly.
 *   <li>grammar: no GBNF recognizer exists on the JVM side, so only two things are checked: the output is not empty and
 *       did not stop at max_new_tokens (a grammar-constrained output cut off there is incomplete).
 * </ul>
 */
public final class OutputValidator {
  private OutputValidator() {}

  /**
   * @param ok whether the output satisfies the constraint
   * @param outputJson the output as compact JSON (json_schema constraints only, when ok), else null
   * @param error why not, naming the first violation and the finish reason; null when ok
   */
  public record Result(boolean ok, String outputJson, String error) {
    static Result pass(String json) {
      return new Result(true, json, null);
    }

    static Result fail(String error) {
      return new Result(false, null, error);
    }
  }

  public static Result validate(OutputConstraint c, String output, String finishReason) {
    String text = output == null ? "" : output;
    String why = finishWords(finishReason);
    return switch (c.kind()) {
      case JSON_SCHEMA -> json(c, text, why);
      case CHOICE -> {
        if (c.choices().contains(text)) {
          yield Result.pass(null);
        }
        yield Result.fail("output is not one of the " + c.choices().size() + " allowed choices " + why + ": got "
            + quote(text));
      }
      case GRAMMAR -> {
        if ("length".equals(finishReason)) {
          yield Result.fail("output does not complete the grammar " + why + ": " + quote(text));
        }
        yield text.isEmpty() ? Result.fail("output is empty " + why) : Result.pass(null);
      }
    };
  }

  private static Result json(OutputConstraint c, String text, String why) {
    JsonNode value;
    try {
      if (text.isBlank()) {
        return Result.fail("output is not valid JSON " + why + ": the output is empty");
      }
      value = Json.parse(text);
    } catch (JacksonException e) {
      return Result.fail("output is not valid JSON " + why + ": " + Json.shortMessage(e));
    }
    List<Error> errors = JsonSchemas.compiled(c).validate(value);
    if (!errors.isEmpty()) {
      String more = errors.size() > 1 ? " (and " + (errors.size() - 1) + " more)" : "";
      return Result.fail("output does not match the JSON schema " + why + ": " + JsonSchemas.describe(errors.get(0)) + more);
    }
    return Result.pass(Json.compact(value));
  }

  /** "(truncated at max_new_tokens: finish_reason=length)" or "(finish_reason=stop)". */
  static String finishWords(String finishReason) {
    if ("length".equals(finishReason)) {
      return "(truncated at max_new_tokens: finish_reason=length)";
    }
    return "(finish_reason=" + (finishReason == null ? "unknown" : finishReason) + ")";
  }

  private static String quote(String s) {
    String q = "'" + s.replace("\n", "\\n") + "'";
    return q.length() > 82 ? q.substring(0, 78) + "...'" : q;
  }
}
