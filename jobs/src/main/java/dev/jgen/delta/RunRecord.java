package dev.jgen.delta;

import java.sql.Timestamp;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * One attempt of a run, as stored in the runs table.
 *
 * @param status {@code running}, {@code finished} or {@code failed}
 * @param owner a random token of the job holding the attempt: two jobs starting at once tell each other apart by it
 */
public record RunRecord(
    String runId,
    int attempt,
    String status,
    String owner,
    String configHash,
    String config,
    String modelId,
    String templateSha256,
    String jgenVersion,
    Timestamp startedAt,
    Timestamp heartbeatAt,
    Timestamp endedAt,
    Long rowsIn,
    Long generated,
    Long ok,
    Long error,
    Long missingFromInput,
    Long promptTokens,
    Long completionTokens,
    Double completionTokensPerSecond,
    Long modelLoadMs,
    Double generationSeconds,
    Double seconds,
    String message,
    Long cachedTokens) {

  public Row toRow() {
    return RowFactory.create(runId, attempt, status, owner, configHash, config, modelId, templateSha256, jgenVersion,
        startedAt, heartbeatAt, endedAt, rowsIn, generated, ok, error, missingFromInput, promptTokens, completionTokens,
        completionTokensPerSecond, modelLoadMs, generationSeconds, seconds, message, cachedTokens);
  }

  public static RunRecord fromRow(Row r) {
    return new RunRecord(r.getAs("run_id"), r.getAs("attempt"), r.getAs("status"), r.getAs("owner"), r.getAs("config_hash"),
        r.getAs("config"), r.getAs("model_id"), r.getAs("template_sha256"), r.getAs("jgen_version"), r.getAs("started_at"),
        r.getAs("heartbeat_at"), r.getAs("ended_at"), r.getAs("rows_in"), r.getAs("generated"), r.getAs("ok"), r.getAs("error"),
        r.getAs("missing_from_input"), r.getAs("prompt_tokens"), r.getAs("completion_tokens"),
        r.getAs("completion_tokens_per_second"), r.getAs("model_load_ms"), r.getAs("generation_seconds"), r.getAs("seconds"),
        r.getAs("message"), r.getAs("cached_tokens"));
  }

  public RunRecord heartbeat() {
    return new RunRecord(runId, attempt, status, owner, configHash, config, modelId, templateSha256, jgenVersion, startedAt,
        RunsTable.now(), endedAt, rowsIn, generated, ok, error, missingFromInput, promptTokens, completionTokens,
        completionTokensPerSecond, modelLoadMs, generationSeconds, seconds, message, cachedTokens);
  }

  public RunRecord ended(String endStatus, Long rowsIn, Long generated, Long ok, Long error, Long missing, Long promptTokens,
      Long completionTokens, Double tokPerSec, Long loadMs, Double genSeconds, Double totalSeconds, String message,
      Long cachedTokens) {
    Timestamp now = RunsTable.now();
    return new RunRecord(runId, attempt, endStatus, owner, configHash, config, modelId, templateSha256, jgenVersion, startedAt,
        now, now, rowsIn, generated, ok, error, missing, promptTokens, completionTokens, tokPerSec, loadMs, genSeconds,
        totalSeconds, message, cachedTokens);
  }
}
