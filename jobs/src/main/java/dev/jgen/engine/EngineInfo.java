package dev.jgen.engine;

import java.io.Serializable;

/**
 * Who generated a row, for lineage.
 *
 * @param instanceId unique per engine load: counting distinct ids in the output counts model loads
 * @param loadMillis time the model took to load, kept apart from generation time
 */
public record EngineInfo(String kind, String version, String instanceId, long loadMillis) implements Serializable {}
