package dev.jgen.eval;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One conversation being generated turn by turn (an MT-Bench question and choice, or a self-chat dialogue): the state
 * one Spark pass hands to the next. Mutable on purpose: a pass updates the dialogues of its partition in place.
 */
final class Dialogue implements Serializable {
  private static final long serialVersionUID = 1L;

  long inputRow;
  String rowKey;
  /** The id (MT-Bench: question_id as text), null when the input has none. */
  String id;
  /** "int" or "string": how the question_id was written in the input, so the export writes it back the same way. */
  String idType;
  String category;
  String system;
  /** Magpie: the row's SteerLM attribute columns (raw values, validated by the prompt translator); empty when none. */
  Map<String, Object> attributes = new LinkedHashMap<>();
  /** Score: the source row's fields a rubric reads (instruction, response, system, attributes), and its source run. */
  Map<String, String> fields = new LinkedHashMap<>();
  String sourceRun;
  int sample;
  /** The row's error (bad input, or the first turn that failed); nothing is generated after it. */
  String error;
  /** User turns: MT-Bench's given turns, or self-chat's seed instruction and simulated follow-ups. */
  final List<String> userTurns = new ArrayList<>();
  /** The model's answers, in order: answers.get(k) answers userTurns.get(k). */
  final List<String> answers = new ArrayList<>();
  /** Every generation made for this dialogue, in order (answers and, for self-chat, user-simulator turns). */
  final List<Step> steps = new ArrayList<>();
  /** Judge: the model whose answer is judged (FastChat's {@code model}), and the judge prompt's name. */
  String judgedModel;
  String promptName;
  /** MT-Bench: the category's temperature. */
  double temperature;
  String engineKind;
  String engineVersion;
  String engineInstance;
  long finishedMillis;
  /** Appended to the keys this conversation's seeds derive from: "" normally, new in a --retry-errors attempt. */
  String seedSalt = "";

  /** This conversation, to be sampled with seeds of another key (a --retry-errors attempt). */
  Dialogue withSeedSalt(String salt) {
    seedSalt = salt;
    return this;
  }

  /** One generation: its rendered prompt and what came back. */
  record Step(int turn, String kind, String prompt, Integer promptTokens, String text, Integer completionTokens,
      String finishReason, Long latencyMs, long seed, double temperature) implements Serializable {}

  /** The conversation so far, user and assistant turns alternating (no system message: that travels apart). */
  List<Map<String, Object>> messages() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (int i = 0; i < userTurns.size(); i++) {
      out.add(message("user", userTurns.get(i)));
      if (i < answers.size()) {
        out.add(message("assistant", answers.get(i)));
      }
    }
    return out;
  }

  static Map<String, Object> message(String role, String content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }
}
