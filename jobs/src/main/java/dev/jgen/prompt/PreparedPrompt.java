package dev.jgen.prompt;

import java.util.List;
import java.util.Map;

/**
 * A rendered and tokenized prompt, ready for an engine.
 *
 * @param tokenIds null when the model has no tokenizer.json
 * @param attributes the SteerLM attributes applied from columns (canonical order), empty when none
 * @param warnings things the user should know about this row (for example, a system prompt the template ignores)
 */
public record PreparedPrompt(String text, int[] tokenIds, Map<String, Integer> attributes, List<String> warnings) {
  public int tokenCount() {
    return tokenIds == null ? -1 : tokenIds.length;
  }
}
