package dev.jgen.engine.serving;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.SamplingParams;
import java.io.IOException;

/**
 * DJL Serving's LMI API: {@code POST /invocations} with {@code {"inputs": ..., "parameters": {...}}}; the answer is
 * {@code {"generated_text": ..., "details": {"finish_reason": ..., "generated_tokens": N}}} (details only when asked for
 * with {@code details: true}, which every request does). See /work/shared/notes/djl-serving.md.
 */
final class DjlInvocationsWire implements WireProtocol {
  @Override
  public String path() {
    return "/invocations";
  }

  @Override
  public ObjectNode body(CompletionRequest request, String prompt, String model) {
    SamplingParams p = request.params();
    boolean sample = p.temperature() > 0;
    ObjectNode o = JSON.createObjectNode();
    o.put("inputs", prompt);
    ObjectNode params = o.putObject("parameters");
    params.put("max_new_tokens", p.maxNewTokens()); // always: the server's default is 30
    params.put("do_sample", sample);
    if (sample) { // greedy needs none of them; some handlers reject temperature 0
      params.put("temperature", p.temperature());
      params.put("top_p", p.topP());
      if (p.topK() > 0) {
        params.put("top_k", p.topK());
      }
    }
    params.put("repetition_penalty", p.repetitionPenalty());
    params.put("seed", p.seed());
    if (!p.stop().isEmpty()) {
      ArrayNode stop = params.putArray("stop");
      p.stop().forEach(stop::add);
    }
    params.put("details", true); // the exact generated_tokens and finish_reason come only with details
    params.put("return_full_text", false);
    return o;
  }

  @Override
  public Completion parse(String body, CompletionRequest request, long latencyMs) throws IOException {
    JsonNode root = JSON.readTree(body);
    JsonNode r = root.isArray() && root.size() > 0 ? root.get(0) : root;
    String text = WireProtocol.text(r.get("generated_text"));
    if (text == null) {
      throw new IOException("no generated_text in the response: " + WireProtocol.excerpt(body));
    }
    JsonNode details = r.path("details");
    int generated = details.path("generated_tokens").asInt(-1);
    String finish = WireProtocol.finishReason(WireProtocol.text(details.get("finish_reason")), generated,
        request.params().maxNewTokens());
    int promptTokens = request.promptTokenIds() == null ? details.path("prompt_tokens").asInt(0) : request.promptTokenIds().length;
    return new Completion(text, promptTokens, Math.max(0, generated), finish, latencyMs);
  }
}
