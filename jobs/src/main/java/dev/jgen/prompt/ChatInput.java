package dev.jgen.prompt;

import java.util.List;
import java.util.Map;

/**
 * One row's conversation, as read from the input: either {@code messages} or a single {@code prompt}, plus an
 * optional {@code system} text and attribute columns (raw, validated here).
 */
public record ChatInput(
    List<Map<String, Object>> messages,
    String prompt,
    String system,
    Map<String, Object> attributeColumns,
    boolean addGenerationPrompt,
    Map<String, Object> kwargs,
    List<Object> tools) {

  public static ChatInput ofPrompt(String prompt) {
    return new ChatInput(null, prompt, null, Map.of(), true, null, null);
  }

  public static ChatInput ofMessages(List<Map<String, Object>> messages) {
    return new ChatInput(messages, null, null, Map.of(), true, null, null);
  }
}
