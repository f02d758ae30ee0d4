package dev.jgen.structured;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Where each engine reads a constraint, as found in each server's own source (docs/structured.md lists versions and
 * sources). Request bodies are Jackson 2 trees, as the engines build them.
 *
 * <table>
 *   <tr><th>server kind</th><th>json_schema</th><th>choice</th><th>grammar</th></tr>
 *   <tr><td>llama.cpp task (embedded)</td><td>{@code json_schema}</td><td>{@code grammar} (GBNF alternatives)</td><td>{@code grammar}</td></tr>
 *   <tr><td>{@code djl-invocations}: LMI TensorRT-LLM image, /invocations</td>
 *       <td>{@code parameters.response_format {type: json, schema}}</td><td>{@code parameters.response_format {type: ebnf}}</td><td>no</td></tr>
 *   <tr><td>{@code djl-invocations-vllm}: LMI vLLM image (vLLM 0.10.2+), /invocations</td>
 *       <td>{@code parameters.structured_outputs.json}</td><td>{@code parameters.structured_outputs.choice}</td><td>no</td></tr>
 *   <tr><td>{@code openai-vllm}: /v1/completions on vLLM 0.10.2+ (vllm serve, LMI vLLM)</td>
 *       <td>{@code structured_outputs.json}</td><td>{@code structured_outputs.choice}</td><td>no</td></tr>
 *   <tr><td>{@code trtllm-serve}: /v1/completions on trtllm-serve</td>
 *       <td>{@code response_format {type: json, schema}}</td><td>{@code response_format {type: ebnf}}</td><td>no</td></tr>
 * </table>
 *
 * <p>{@code generation.grammar} is GBNF, llama.cpp's own language: vLLM and TensorRT-LLM read other grammar dialects
 * (xgrammar EBNF, Lark), so a GBNF text is never forwarded to them.
 */
public final class ServerEncodings {
  public static final String DJL_INVOCATIONS = "djl-invocations";
  public static final String DJL_INVOCATIONS_VLLM = "djl-invocations-vllm";
  public static final String OPENAI_VLLM = "openai-vllm";
  public static final String TRTLLM_SERVE = "trtllm-serve";
  public static final List<String> SERVER_KINDS = List.of(DJL_INVOCATIONS, DJL_INVOCATIONS_VLLM, OPENAI_VLLM, TRTLLM_SERVE);

  /** Values of {@code engine.djl.server}: the software behind the endpoint. */
  public static final List<String> SERVERS = List.of("lmi-trtllm", "lmi-vllm", "vllm", "trtllm-serve");

  private static final ObjectMapper JSON = new ObjectMapper();

  private ServerEncodings() {}

  /**
   * The server kind of an {@code engine.djl.api} ({@code invocations} | {@code openai}) and {@code engine.djl.server},
   * or null for a pair that does not exist (vLLM and trtllm-serve have no /invocations).
   */
  public static String serverKind(String api, String server) {
    boolean openai = "openai".equals(api);
    return switch (server) {
      case "lmi-trtllm" -> openai ? TRTLLM_SERVE : DJL_INVOCATIONS;
      case "lmi-vllm" -> openai ? OPENAI_VLLM : DJL_INVOCATIONS_VLLM;
      case "vllm" -> openai ? OPENAI_VLLM : null;
      case "trtllm-serve" -> openai ? TRTLLM_SERVE : null;
      default -> null;
    };
  }

  /**
   * Adds the constraint to java-llama.cpp's server task JSON. llama.cpp b4916 ({@code params_from_json_cmpl} in
   * examples/server/server.cpp, vendored by java-llama.cpp 4.2.0) reads {@code json_schema} (converted with
   * {@code json_schema_to_grammar}) or {@code grammar} (GBNF), and refuses both at once.
   */
  public static void addToLlamaCppTask(ObjectNode task, OutputConstraint c) {
    if (c == null) {
      return;
    }
    switch (c.kind()) {
      case JSON_SCHEMA -> task.set("json_schema", tree(c.text()));
      case GRAMMAR -> task.put("grammar", c.text());
      // A grammar, not a JSON-schema enum: the output is then the bare string, not a quoted JSON string.
      case CHOICE -> task.put("grammar", Gbnf.forChoices(c.choices()));
    }
  }

  /** Null when {@code serverKind} can carry the constraint, else why not (for a config or row error). */
  public static String unsupportedReason(String serverKind, OutputConstraint c) {
    if (c == null) {
      return null;
    }
    if (!SERVER_KINDS.contains(serverKind)) {
      return "unknown server kind '" + serverKind + "' (one of " + String.join(" | ", SERVER_KINDS) + ")";
    }
    if (c.kind() == OutputConstraint.Kind.GRAMMAR) {
      return OutputConstraint.KEY_GRAMMAR + " is GBNF for the embedded llama.cpp engine only; " + serverKind
          + " reads other grammar dialects, so use " + OutputConstraint.KEY_JSON_SCHEMA + " or " + OutputConstraint.KEY_CHOICE;
    }
    return null;
  }

  /**
   * Adds the constraint to a server request body in the field {@code serverKind} reads.
   *
   * @throws IllegalArgumentException when {@link #unsupportedReason} is not null
   */
  public static void addToServerBody(ObjectNode body, String serverKind, OutputConstraint c) {
    if (c == null) {
      return;
    }
    String reason = unsupportedReason(serverKind, c);
    if (reason != null) {
      throw new IllegalArgumentException(reason);
    }
    switch (serverKind) {
      case DJL_INVOCATIONS -> parameters(body).set("response_format", trtResponseFormat(c));
      case DJL_INVOCATIONS_VLLM -> parameters(body).set("structured_outputs", vllmStructuredOutputs(c));
      case OPENAI_VLLM -> body.set("structured_outputs", vllmStructuredOutputs(c));
      case TRTLLM_SERVE -> body.set("response_format", trtResponseFormat(c));
      default -> throw new IllegalArgumentException(serverKind);
    }
  }

  /** A JSON Schema whose valid instances are exactly the given strings, as JSON strings. */
  public static ObjectNode choiceAsJsonSchemaEnum(List<String> choices) {
    ObjectNode s = JSON.createObjectNode();
    s.put("type", "string");
    ArrayNode e = s.putArray("enum");
    choices.forEach(e::add);
    return s;
  }

  /**
   * TensorRT-LLM's ResponseFormat ({@code tensorrt_llm/serve/openai_protocol.py}): {@code type=json} with a bare
   * {@code schema} is read by every version seen (the later {@code json_schema} type changed meaning between versions);
   * {@code ebnf} is xgrammar's EBNF, which reads our GBNF alternatives of quoted literals as they are.
   */
  private static ObjectNode trtResponseFormat(OutputConstraint c) {
    ObjectNode rf = JSON.createObjectNode();
    if (c.kind() == OutputConstraint.Kind.JSON_SCHEMA) {
      rf.put("type", "json");
      rf.set("schema", tree(c.text()));
    } else {
      rf.put("type", "ebnf");
      rf.put("ebnf", Gbnf.forChoices(c.choices()));
    }
    return rf;
  }

  /** vLLM's StructuredOutputsParams as JSON (vLLM 0.10.2+; the guided_* fields it replaced are gone since 0.12.0). */
  private static ObjectNode vllmStructuredOutputs(OutputConstraint c) {
    ObjectNode so = JSON.createObjectNode();
    if (c.kind() == OutputConstraint.Kind.JSON_SCHEMA) {
      so.set("json", tree(c.text()));
    } else {
      ArrayNode a = so.putArray("choice");
      c.choices().forEach(a::add);
    }
    return so;
  }

  private static ObjectNode parameters(ObjectNode body) {
    JsonNode p = body.get("parameters");
    if (p instanceof ObjectNode o) {
      return o;
    }
    return body.putObject("parameters");
  }

  private static JsonNode tree(String json) {
    try {
      return JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a canonical constraint is always JSON", e);
    }
  }
}
