package dev.jgen.engine.serving;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.EngineException;
import java.io.IOException;

/**
 * How one row's request and answer look on the wire. Two implementations: DJL Serving's {@code POST /invocations}
 * ({@link DjlInvocationsWire}) and the OpenAI completions API {@code POST /v1/completions} spoken by vLLM-based LMI and
 * by {@code trtllm-serve} ({@link OpenAiCompletionsWire}). Transport, routing and retries know nothing of either.
 *
 * <p>Token counts and finish reasons come from the server's own answer (DJL: {@code details.generated_tokens},
 * {@code details.finish_reason}, asked for with {@code details: true}; OpenAI: {@code usage.completion_tokens},
 * {@code choices[0].finish_reason}), never counted on the client.
 */
interface WireProtocol {
  ObjectMapper JSON = new ObjectMapper();
  int BODY_EXCERPT = 300;

  /** Short name for versions and messages: the request path. */
  String path();

  /** The request body for one row; {@code prompt} is already what the server must see (BOS text removed). */
  ObjectNode body(CompletionRequest request, String prompt, String model);

  /** Reads a 200 response. */
  Completion parse(String body, CompletionRequest request, long latencyMs) throws IOException;

  /** {@code invocations} or {@code openai}. */
  static WireProtocol of(String api, String keyPrefix) {
    return switch (api) {
      case "invocations" -> new DjlInvocationsWire();
      case "openai" -> new OpenAiCompletionsWire();
      default -> throw new EngineException(keyPrefix + "api: unknown API '" + api + "' (invocations | openai)");
    };
  }

  /**
   * jgen's finish reasons: {@code length} or {@code stop}. The server's {@code eos_token} and {@code stop_sequence} are
   * stops. A missing reason (TensorRT-LLM's async path in LMI 0.33 often leaves it null) is taken from the server's own
   * token count: {@code length} when it generated max_new_tokens.
   */
  static String finishReason(String server, int generatedTokens, int maxNewTokens) {
    if (server == null || server.isBlank() || server.equals("null")) {
      return generatedTokens >= maxNewTokens ? "length" : "stop";
    }
    return switch (server) {
      case "length", "max_tokens" -> "length";
      case "eos_token", "eos", "stop_sequence", "stop" -> "stop";
      default -> server;
    };
  }

  static String text(JsonNode n) {
    return n != null && n.isTextual() ? n.asText() : null;
  }

  static String excerpt(String body) {
    String b = body == null ? "" : body.strip().replaceAll("\\s+", " ");
    return b.length() <= BODY_EXCERPT ? b : b.substring(0, BODY_EXCERPT) + "…";
  }

  /**
   * The message of an error body: DJL's {@code {"code":..., "message":..., "error":...}}, OpenAI's
   * {@code {"error": {"message": ...}}} or FastAPI's {@code {"detail": ...}}; else an excerpt of the body.
   */
  static String serverMessage(String body) {
    try {
      JsonNode n = JSON.readTree(body);
      if (n != null && n.isObject()) {
        String m = n.path("message").asText("");
        String e = n.path("error").isTextual() ? n.path("error").asText() : n.path("error").path("message").asText("");
        String s = m.isEmpty() ? e : e.isEmpty() || e.equals(m) ? m : m + " (" + e + ")";
        if (s.isEmpty() && n.has("detail")) {
          s = n.get("detail").isTextual() ? n.get("detail").asText() : n.get("detail").toString();
        }
        if (!s.isEmpty()) {
          return excerpt(s);
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // not JSON: the raw excerpt below
    }
    return excerpt(body);
  }
}
