package dev.jgen.structured;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Every output is checked on our side: valid, invalid, truncated, and the canonical output_json. */
class OutputValidatorTest {
  private static final OutputConstraint NESTED = OutputConstraint.ofJsonSchema("""
      {"type": "object",
       "properties": {
         "question": {"type": "string"},
         "meta": {"type": "object",
                  "properties": {"level": {"enum": ["easy", "hard"]}, "score": {"type": "integer", "minimum": 1, "maximum": 5}},
                  "required": ["level", "score"]}},
       "required": ["question", "meta"]}
      """);

  @Test
  void validOutputGivesCompactJsonInGeneratedOrder() {
    String out = " {\"question\" : \"富士山の高さは？\",\n \"meta\": {\"score\": 3, \"level\": \"easy\"}}\n";
    OutputValidator.Result r = OutputValidator.validate(NESTED, out, "stop");
    assertTrue(r.ok(), r.error());
    assertNull(r.error());
    assertEquals("{\"question\":\"富士山の高さは？\",\"meta\":{\"score\":3,\"level\":\"easy\"}}", r.outputJson());
  }

  @Test
  void decimalsKeepTheirDigits() {
    OutputConstraint num = OutputConstraint.ofJsonSchema("{\"type\": \"number\"}");
    assertEquals("1.50", OutputValidator.validate(num, "1.50", "stop").outputJson());
  }

  @Test
  void truncatedOutputSaysSo() {
    OutputValidator.Result r = OutputValidator.validate(NESTED, "{\"question\": \"富士山の", "length");
    assertFalse(r.ok());
    assertNull(r.outputJson());
    assertTrue(r.error().startsWith("output is not valid JSON (truncated at max_new_tokens: finish_reason=length): "), r.error());
    OutputValidator.Result open = OutputValidator.validate(NESTED, "{\"question\": \"q\"", "length");
    assertEquals("output is not valid JSON (truncated at max_new_tokens: finish_reason=length): Unexpected end-of-input: "
        + "expected close marker for Object (line 1, column 17)", open.error());
  }

  @Test
  void schemaViolationNamesTheFirstViolationAndTheFinishReason() {
    OutputValidator.Result range = OutputValidator.validate(NESTED, "{\"question\": \"q\", \"meta\": {\"level\": \"easy\", \"score\": 9}}", "stop");
    assertFalse(range.ok());
    assertTrue(range.error().startsWith("output does not match the JSON schema (finish_reason=stop): at /meta/score: "), range.error());
    assertTrue(range.error().contains("5"), range.error());
    OutputValidator.Result en = OutputValidator.validate(NESTED, "{\"question\": \"q\", \"meta\": {\"level\": \"medium\", \"score\": 2}}", "stop");
    assertTrue(en.error().contains("/meta/level"), en.error());
    OutputValidator.Result missing = OutputValidator.validate(NESTED, "{\"meta\": {\"level\": \"easy\", \"score\": 2}}", "stop");
    assertTrue(missing.error().contains("question"), missing.error());
  }

  @Test
  void notExactlyOneJsonValueIsAnError() {
    String ok = "{\"question\": \"q\", \"meta\": {\"level\": \"easy\", \"score\": 2}}";
    OutputValidator.Result trailing = OutputValidator.validate(NESTED, ok + " 以上です", "stop");
    assertTrue(trailing.error().startsWith("output is not valid JSON (finish_reason=stop): "), trailing.error());
    OutputValidator.Result dup = OutputValidator.validate(NESTED, "{\"question\": \"q\", \"question\": \"r\", \"meta\": {\"level\": \"easy\", \"score\": 2}}", "stop");
    assertTrue(dup.error().contains("Duplicate"), dup.error());
    OutputValidator.Result empty = OutputValidator.validate(NESTED, "  ", "stop");
    assertEquals("output is not valid JSON (finish_reason=stop): the output is empty", empty.error());
    OutputValidator.Result nul = OutputValidator.validate(NESTED, null, null);
    assertTrue(nul.error().contains("finish_reason=unknown"), nul.error());
  }

  @Test
  void choiceIsAnExactMatch() {
    OutputConstraint c = OutputConstraint.ofChoices(List.of("はい", "いいえ"));
    assertTrue(OutputValidator.validate(c, "いいえ", "stop").ok());
    assertNull(OutputValidator.validate(c, "いいえ", "stop").outputJson());
    OutputValidator.Result r = OutputValidator.validate(c, "はい。", "stop");
    assertEquals("output is not one of the 2 allowed choices (finish_reason=stop): got 'はい。'", r.error());
    assertFalse(OutputValidator.validate(c, " はい", "stop").ok());
  }

  @Test
  void grammarOutputsAreOnlyCheckedForBeingNonEmptyAndComplete() {
    OutputConstraint g = OutputConstraint.fromConfig(null, "root ::= [a-z]+", null, null);
    assertTrue(OutputValidator.validate(g, "abc", "stop").ok());
    assertEquals("output is empty (finish_reason=stop)", OutputValidator.validate(g, "", "stop").error());
    assertTrue(OutputValidator.validate(g, "abcabc", "length").error()
        .startsWith("output does not complete the grammar (truncated at max_new_tokens: finish_reason=length)"));
  }
}
