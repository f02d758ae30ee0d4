package dev.jgen.export;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.delta.RunTable;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * {@code jgen export openai-batch}: writes a run of the generations table as an OpenAI Batch output file and error file,
 * one line per request (input row) in input order, from the latest attempt of each row.
 *
 * <p>Shapes, as OpenAI's {@code BatchRequestOutput} ("the per-line object of the batch output and error files":
 * {@code id}, {@code custom_id}, {@code response {status_code, request_id, body}} or null, {@code error {code, message}}
 * or null; OpenAI's OpenAPI spec, e.g. as generated in docs.rs/openai-struct {@code batch_request_output.rs}) and as
 * {@code vllm run-batch} writes them ({@code vllm/entrypoints/openai/run_batch.py}: {@code BatchRequestOutput},
 * {@code BatchResponseData(status_code=200, request_id, body=ChatCompletionResponse)}):
 * <pre>
 * results: {"id": "batch_req_…", "custom_id": "…", "response": {"status_code": 200, "request_id": "req_…", "body":
 *           {"id": "chatcmpl-…", "object": "chat.completion", "created": …, "model": "…", "choices": [{"index": 0,
 *           "message": {"role": "assistant", "content": "…"}, "logprobs": null, "finish_reason": "stop"}],
 *           "usage": {"prompt_tokens": …, "completion_tokens": …, "total_tokens": …}}}, "error": null}
 * errors:  {"id": "batch_req_…", "custom_id": "…", "response": null, "error": {"code": "…", "message": "…"}}
 * </pre>
 * With {@code generation.n > 1} a request's samples are its {@code choices} (index = sample_index; prompt tokens
 * counted once in usage, as OpenAI does for n). A request goes to the error file when any of its samples failed (the
 * first failed sample's message) or was skipped. Ids are derived from (run, row key), so exporting twice writes the same
 * files. Error lines take the form both give a failure that is not an HTTP answer (vLLM: "for requests that failed with
 * a non-HTTP error"): jgen made no HTTP request. Error codes: {@code invalid_request} (the line or its conversation was refused before generation),
 * {@code generation_error} (the engine failed), {@code skipped_duplicate} ({@code input.dedup}).
 */
public final class ExportOpenAiBatch {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What was written. */
  public record Result(String runId, Path results, Path errors, long requests, long succeeded, long failed) {}

  private ExportOpenAiBatch() {}

  /** The default error file: {@code out.jsonl} -> {@code out.errors.jsonl}. */
  public static Path defaultErrors(Path results) {
    String name = results.getFileName().toString();
    String base = name.endsWith(".jsonl") ? name.substring(0, name.length() - ".jsonl".length()) : name;
    return results.resolveSibling(base + ".errors.jsonl");
  }

  /**
   * @param runId the run to export; null when the table holds exactly one run
   * @param errors the error file; null for {@link #defaultErrors}
   * @throws IllegalArgumentException when the table or run is not there (a usage error)
   */
  public static Result export(SparkSession spark, String tablePath, String runId, Path results, Path errors) {
    if (results == null) {
      throw new IllegalArgumentException("--to: missing; the results file to write");
    }
    Path errorFile = errors != null ? errors : defaultErrors(results);
    if (errorFile.toAbsolutePath().normalize().equals(results.toAbsolutePath().normalize())) {
      throw new IllegalArgumentException("--errors: must differ from --to (" + results + ")");
    }
    RunTable table = RunTable.open(spark, tablePath, dev.jgen.delta.OutputSchema.SPEC);
    String run = runId;
    if (run == null) {
      List<String> runs = table.all().select("run_id").distinct().orderBy("run_id").as(org.apache.spark.sql.Encoders.STRING())
          .collectAsList();
      if (runs.size() != 1) {
        throw new IllegalArgumentException("--run: missing; " + tablePath + " holds "
            + (runs.isEmpty() ? "no runs" : "runs " + String.join(", ", runs)));
      }
      run = runs.get(0);
    }
    Iterator<Row> rows = table.latest(run)
        .select("id", "row_key", "input_row", "sample_index", "status", "error", "duplicate_of", "model_id", "prompt",
            "prompt_tokens", "output_text", "finish_reason", "completion_tokens", "created_at")
        .orderBy(col("input_row"), col("sample_index"))
        .toLocalIterator();
    long requests = 0;
    long ok = 0;
    long failed = 0;
    Path resultsTmp = temp(results);
    Path errorsTmp = temp(errorFile);
    try (BufferedWriter out = Files.newBufferedWriter(resultsTmp, StandardCharsets.UTF_8);
         BufferedWriter err = Files.newBufferedWriter(errorsTmp, StandardCharsets.UTF_8)) {
      // Rows come sorted by (input_row, sample_index): one request is a run of rows with the same row_key.
      List<Row> group = new ArrayList<>();
      while (rows.hasNext() || !group.isEmpty()) {
        Row r = rows.hasNext() ? rows.next() : null;
        if (r != null && (group.isEmpty() || group.get(0).<String>getAs("row_key").equals(r.getAs("row_key")))) {
          group.add(r);
          continue;
        }
        requests++;
        ObjectNode line = request(run, group);
        if (line.get("error").isNull()) {
          ok++;
          out.write(JSON.writeValueAsString(line));
          out.write('\n');
        } else {
          failed++;
          err.write(JSON.writeValueAsString(line));
          err.write('\n');
        }
        group.clear();
        if (r != null) {
          group.add(r);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + results + " / " + errorFile + ": " + e.getMessage(), e);
    }
    if (requests == 0) {
      quietDelete(resultsTmp);
      quietDelete(errorsTmp);
      throw new IllegalArgumentException("--run " + run + ": no rows of that run in " + tablePath);
    }
    try {
      Files.move(resultsTmp, results, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      Files.move(errorsTmp, errorFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + results + ": " + e.getMessage(), e);
    }
    return new Result(run, results, errorFile, requests, ok, failed);
  }

  /** One request's line: a result when every sample is ok, else an error. */
  private static ObjectNode request(String run, List<Row> samples) {
    Row first = samples.get(0);
    String rowKey = first.getAs("row_key");
    String hash = hash(run + "\u0000" + rowKey);
    ObjectNode line = JSON.createObjectNode();
    line.put("id", "batch_req_" + hash.substring(0, 32));
    line.put("custom_id", customId(first));
    Row bad = samples.stream().filter(s -> !"ok".equals(s.getAs("status"))).findFirst().orElse(null);
    if (bad != null) {
      line.putNull("response");
      ObjectNode error = line.putObject("error");
      String status = bad.getAs("status");
      if ("skipped".equals(status)) {
        error.put("code", "skipped_duplicate");
        error.put("message", "not generated: a duplicate of " + bad.getAs("duplicate_of") + " (input.dedup)");
      } else {
        error.put("code", bad.getAs("prompt") == null ? "invalid_request" : "generation_error");
        String msg = bad.getAs("error");
        error.put("message", (samples.size() > 1 ? "sample " + bad.getAs("sample_index") + ": " : "")
            + (msg == null ? "failed" : msg));
      }
      return line;
    }
    ObjectNode response = line.putObject("response");
    response.put("status_code", 200);
    response.put("request_id", "req_" + hash.substring(32, 64));
    ObjectNode body = response.putObject("body");
    body.put("id", "chatcmpl-" + hash.substring(0, 29));
    body.put("object", "chat.completion");
    Timestamp created = samples.stream().map(s -> s.<Timestamp>getAs("created_at")).max(Timestamp::compareTo).orElse(null);
    body.put("created", created == null ? 0 : created.getTime() / 1000);
    body.put("model", (String) first.getAs("model_id"));
    ArrayNode choices = body.putArray("choices");
    long completion = 0;
    for (Row s : samples) {
      ObjectNode c = choices.addObject();
      c.put("index", s.<Integer>getAs("sample_index"));
      ObjectNode message = c.putObject("message");
      message.put("role", "assistant");
      message.put("content", (String) s.getAs("output_text"));
      c.putNull("logprobs");
      c.put("finish_reason", (String) s.getAs("finish_reason"));
      Integer ct = s.getAs("completion_tokens");
      completion += ct == null ? 0 : ct;
    }
    // Every sample of a request has the same prompt: counted once, as OpenAI's usage does for n > 1.
    Integer pt = first.getAs("prompt_tokens");
    long prompt = pt == null ? 0 : pt;
    ObjectNode usage = body.putObject("usage");
    usage.put("prompt_tokens", prompt);
    usage.put("completion_tokens", completion);
    usage.put("total_tokens", prompt + completion);
    line.putNull("error");
    return line;
  }

  /**
   * The request's custom_id: the row's id; for a row stored without one (a line refused before its id was read, or a
   * repeated id) the id part of its row key ({@code <id>#row<n>} for a repeated id, {@code #row<n>} when none).
   */
  static String customId(Row r) {
    String id = r.getAs("id");
    if (id != null) {
      return id;
    }
    String key = r.getAs("row_key");
    String tag = "#row" + r.<Long>getAs("input_row");
    if (key == null || key.equals(tag)) {
      return null;
    }
    return key.endsWith(tag) ? key.substring(0, key.length() - tag.length()) : key;
  }

  private static String hash(String s) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      StringBuilder sb = new StringBuilder();
      for (byte b : h) {
        sb.append(String.format("%02x", b));
      }
      return sb.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Path temp(Path target) {
    try {
      Path dir = target.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      return Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
    }
  }

  private static void quietDelete(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // a leftover temp file is harmless
    }
  }
}
