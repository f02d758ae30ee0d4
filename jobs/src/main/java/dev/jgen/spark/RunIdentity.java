package dev.jgen.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * What the runs table records of a run when an attempt claims it: the run id, the settings (their hash decides whether
 * a later command may resume the run) and what was generated with.
 */
public record RunIdentity(String runId, String configHash, String configJson, String modelId, String templateSha256) {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static RunIdentity of(GenerateJob job) {
    String config;
    try {
      config = JSON.writeValueAsString(job.config().asMap());
    } catch (JsonProcessingException e) {
      config = job.config().toString();
    }
    return new RunIdentity(job.runId(), job.configHash(), config, job.model().modelId(), job.prompts().templateSha256());
  }
}
