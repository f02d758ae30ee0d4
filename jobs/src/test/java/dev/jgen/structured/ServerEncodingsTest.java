package dev.jgen.structured;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Each engine's field for each constraint kind, and the choice conversions. */
class ServerEncodingsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final OutputConstraint SCHEMA = OutputConstraint.ofJsonSchema(
      "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}, \"required\": [\"a\"]}");
  private static final OutputConstraint CHOICE = OutputConstraint.ofChoices(List.of("yes", "no"));
  private static final OutputConstraint GRAMMAR = OutputConstraint.fromConfig(null, "root ::= \"x\"", null, null);

  private static ObjectNode body() {
    ObjectNode b = JSON.createObjectNode();
    b.put("inputs", "p");
    b.putObject("parameters").put("max_new_tokens", 8);
    return b;
  }

  @Test
  void llamaCppTaskFields() throws Exception {
    ObjectNode t = JSON.createObjectNode();
    ServerEncodings.addToLlamaCppTask(t, SCHEMA);
    assertEquals(JSON.readTree(SCHEMA.text()), t.get("json_schema"));
    assertFalse(t.has("grammar"));
    ObjectNode g = JSON.createObjectNode();
    ServerEncodings.addToLlamaCppTask(g, GRAMMAR);
    assertEquals("root ::= \"x\"", g.get("grammar").asText());
    ObjectNode c = JSON.createObjectNode();
    ServerEncodings.addToLlamaCppTask(c, CHOICE);
    assertEquals("root ::= \"yes\" | \"no\"\n", c.get("grammar").asText());
    assertFalse(c.has("json_schema"));
    ObjectNode none = JSON.createObjectNode();
    ServerEncodings.addToLlamaCppTask(none, null);
    assertEquals(0, none.size());
  }

  @Test
  void djlInvocationsOnTensorRtLlmPutsResponseFormatInParameters() throws Exception {
    ObjectNode b = body();
    ServerEncodings.addToServerBody(b, "djl-invocations", SCHEMA);
    assertEquals(8, b.get("parameters").get("max_new_tokens").asInt());
    assertEquals("json", b.get("parameters").get("response_format").get("type").asText());
    assertEquals(JSON.readTree(SCHEMA.text()), b.get("parameters").get("response_format").get("schema"));
    ObjectNode c = body();
    ServerEncodings.addToServerBody(c, "djl-invocations", CHOICE);
    assertEquals("ebnf", c.get("parameters").get("response_format").get("type").asText());
    assertEquals("root ::= \"yes\" | \"no\"\n", c.get("parameters").get("response_format").get("ebnf").asText());
  }

  @Test
  void djlInvocationsOnVllmPutsStructuredOutputsInParameters() throws Exception {
    ObjectNode b = body();
    ServerEncodings.addToServerBody(b, "djl-invocations-vllm", SCHEMA);
    assertEquals(JSON.readTree(SCHEMA.text()), b.get("parameters").get("structured_outputs").get("json"));
    ObjectNode c = JSON.createObjectNode();
    ServerEncodings.addToServerBody(c, "djl-invocations-vllm", CHOICE);
    assertEquals(JSON.readTree("[\"yes\",\"no\"]"), c.get("parameters").get("structured_outputs").get("choice"));
  }

  @Test
  void openAiWires() throws Exception {
    ObjectNode v = JSON.createObjectNode().put("prompt", "p");
    ServerEncodings.addToServerBody(v, "openai-vllm", CHOICE);
    assertEquals(JSON.readTree("{\"choice\":[\"yes\",\"no\"]}"), v.get("structured_outputs"));
    assertFalse(v.has("guided_choice"));
    ObjectNode t = JSON.createObjectNode().put("prompt", "p");
    ServerEncodings.addToServerBody(t, "trtllm-serve", SCHEMA);
    assertEquals("json", t.get("response_format").get("type").asText());
    assertEquals(JSON.readTree(SCHEMA.text()), t.get("response_format").get("schema"));
    // trtllm-serve forbids unknown fields (extra="forbid"): nothing else may be added.
    assertEquals(2, t.size());
  }

  @Test
  void grammarIsRefusedByEveryServerWithAReason() {
    for (String kind : ServerEncodings.SERVER_KINDS) {
      String why = ServerEncodings.unsupportedReason(kind, GRAMMAR);
      assertTrue(why.startsWith("generation.grammar is GBNF for the embedded llama.cpp engine only"), why);
      assertNull(ServerEncodings.unsupportedReason(kind, SCHEMA));
      assertNull(ServerEncodings.unsupportedReason(kind, CHOICE));
      assertThrows(IllegalArgumentException.class, () -> ServerEncodings.addToServerBody(body(), kind, GRAMMAR));
    }
    assertTrue(ServerEncodings.unsupportedReason("tgi", SCHEMA).startsWith("unknown server kind 'tgi'"));
    assertNull(ServerEncodings.unsupportedReason("tgi", null));
  }

  @Test
  void serverKindFromApiAndServer() {
    assertEquals("djl-invocations", ServerEncodings.serverKind("invocations", "lmi-trtllm"));
    assertEquals("trtllm-serve", ServerEncodings.serverKind("openai", "lmi-trtllm"));
    assertEquals("djl-invocations-vllm", ServerEncodings.serverKind("invocations", "lmi-vllm"));
    assertEquals("openai-vllm", ServerEncodings.serverKind("openai", "vllm"));
    assertEquals("trtllm-serve", ServerEncodings.serverKind("openai", "trtllm-serve"));
    assertNull(ServerEncodings.serverKind("invocations", "vllm"));
  }

  @Test
  void choiceToGbnfEscapesWhatLlamaCppsParserReads() {
    assertEquals("root ::= \"は\\\"い\\\"\" | \"a\\\\b\" | \"x\\ny\\tz\" | \"\\x01\"\n",
        Gbnf.forChoices(List.of("は\"い\"", "a\\b", "x\ny\tz", "\u0001")));
    assertEquals("\"絵文字😀\"", Gbnf.literal("絵文字😀"));
  }

  @Test
  void choiceToJsonSchemaEnumAcceptsExactlyTheChoicesAsJsonStrings() {
    ObjectNode schema = ServerEncodings.choiceAsJsonSchemaEnum(List.of("はい", "いいえ"));
    OutputConstraint asSchema = OutputConstraint.ofJsonSchema(schema.toString());
    assertTrue(OutputValidator.validate(asSchema, "\"はい\"", "stop").ok());
    assertTrue(OutputValidator.validate(asSchema, "\"いいえ\"", "stop").ok());
    assertFalse(OutputValidator.validate(asSchema, "\"たぶん\"", "stop").ok());
    assertFalse(OutputValidator.validate(asSchema, "はい", "stop").ok());
  }
}
