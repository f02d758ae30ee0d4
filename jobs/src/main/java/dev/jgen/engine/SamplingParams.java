package dev.jgen.engine;

import java.io.Serializable;
import java.util.List;

/**
 * The effective sampling parameters of one request, after row overrides, job config and model-card defaults.
 * Stored on every output row, so a row can be reproduced alone.
 *
 * @param temperature 0 means greedy
 * @param topK 0 means off
 */
public record SamplingParams(
    int maxNewTokens, double temperature, double topP, int topK, double repetitionPenalty, long seed, List<String> stop)
    implements Serializable {

  public SamplingParams {
    stop = stop == null ? List.of() : List.copyOf(stop);
  }
}
