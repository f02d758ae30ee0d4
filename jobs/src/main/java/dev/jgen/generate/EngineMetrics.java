package dev.jgen.generate;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * A server-side reading of one engine instance ({@link dev.jgen.engine.Engine#serverMetrics()}: batch occupancy, queue
 * time, generation tokens/s where the server exposes them), sent from an executor's task to the driver at the end of
 * the task. Readings are cumulative per instance, so the driver keeps the latest of each.
 */
public record EngineMetrics(String instance, Map<String, Double> values) implements Serializable {
  public EngineMetrics {
    values = new TreeMap<>(values);
  }
}
