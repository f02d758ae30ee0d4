package dev.jgen.engine.serving;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.SamplingParams;
import java.io.IOException;

/**
 * The OpenAI completions API, {@code POST /v1/completions} with a raw {@code prompt} (the template is rendered here, so
 * per-message template variables survive): vLLM-based LMI and {@code trtllm-serve}. The answer's
 * {@code choices[0].text}, {@code choices[0].finish_reason} ({@code stop} | {@code length}) and
 * {@code usage.completion_tokens} are the server's own, and so is {@code usage.prompt_tokens_details.cached_tokens}
 * where the server reports it.
 */
final class OpenAiCompletionsWire implements WireProtocol {
  @Override
  public String path() {
    return "/v1/completions";
  }

  @Override
  public ObjectNode body(CompletionRequest request, String prompt, String model) {
    SamplingParams p = request.params();
    boolean sample = p.temperature() > 0;
    ObjectNode o = JSON.createObjectNode();
    o.put("model", model);
    o.put("prompt", prompt);
    o.put("max_tokens", p.maxNewTokens()); // always: OpenAI's default is 16
    o.put("temperature", sample ? p.temperature() : 0.0);
    o.put("top_p", sample ? p.topP() : 1.0);
    if (sample && p.topK() > 0) {
      o.put("top_k", p.topK()); // an extra parameter vLLM and trtllm-serve accept
    }
    if (p.repetitionPenalty() != 1.0) {
      o.put("repetition_penalty", p.repetitionPenalty());
    }
    o.put("seed", p.seed());
    if (!p.stop().isEmpty()) {
      ArrayNode stop = o.putArray("stop");
      p.stop().forEach(stop::add);
    }
    o.put("stream", false);
    return o;
  }

  @Override
  public Completion parse(String body, CompletionRequest request, long latencyMs) throws IOException {
    JsonNode root = JSON.readTree(body);
    JsonNode choice = root.path("choices").path(0);
    String text = WireProtocol.text(choice.get("text"));
    if (text == null) {
      throw new IOException("no choices[0].text in the response: " + WireProtocol.excerpt(body));
    }
    JsonNode usage = root.path("usage");
    int generated = usage.path("completion_tokens").asInt(-1);
    String finish = WireProtocol.finishReason(WireProtocol.text(choice.get("finish_reason")), generated,
        request.params().maxNewTokens());
    int promptTokens = request.promptTokenIds() == null ? usage.path("prompt_tokens").asInt(0) : request.promptTokenIds().length;
    return new Completion(text, promptTokens, Math.max(0, generated), finish, latencyMs, cachedTokens(usage));
  }

  /**
   * The server's own count of prompt tokens served from its prefix cache, {@code usage.prompt_tokens_details.cached_tokens}
   * (OpenAI's field; vLLM fills it when started with --enable-prompt-tokens-details), or null where the answer has none:
   * a missing count is not a count of zero.
   */
  static Integer cachedTokens(JsonNode usage) {
    JsonNode n = usage.path("prompt_tokens_details").path("cached_tokens");
    return n.isIntegralNumber() && n.asInt() >= 0 ? n.asInt() : null;
  }
}
