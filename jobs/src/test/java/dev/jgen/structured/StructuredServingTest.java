package dev.jgen.structured;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import dev.jgen.testing.djl.DjlServingStandIn;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Structured output through the GPU servers' wires, against the serving stand-in: each request carries the constraint
 * in the field its server reads (docs/structured.md), and an output that violates the schema (the stand-in, in
 * synthetic mode, answers filler text whatever it is asked) becomes an error row naming the problem, its text kept.
 */
class StructuredServingTest {
  @TempDir Path dir;

  private static final String SCHEMA = "{\"type\": \"object\", \"properties\": {\"answer\": {\"type\": \"string\"}}, "
      + "\"required\": [\"answer\"]}";

  private Dataset<Row> run(DjlServingStandIn s, String out, String... sets) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      lines.add("{\"id\": \"q" + i + "\", \"prompt\": \"質問 " + i + "\", \"max_new_tokens\": 4}");
    }
    Path in = TestFiles.jsonl(dir, "in.jsonl", lines);
    List<String> args = new ArrayList<>(List.of("generate", "--config", TestFiles.conf().resolve("jobs/demo.yaml").toString(),
        "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "generation.json_schema=" + SCHEMA));
    for (String x : sets) {
      args.add("--set");
      args.add(x);
    }
    Cli r = Cli.run(args.toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    assertEquals(6, r.summary().get("rows_in").asLong());
    assertEquals(6, r.summary().get("error").asLong(), "filler text is not JSON: every row an error row");
    return TestSpark.get().read().format("delta").load(out);
  }

  private static DjlServingStandIn standIn() throws Exception {
    return DjlServingStandIn.start(DjlServingStandIn.Options.synthetic(4, 1));
  }

  @Test
  void djlInvocationsCarriesResponseFormatAndViolationsAreErrorRows() throws Exception {
    try (DjlServingStandIn s = standIn()) {
      Dataset<Row> rows = run(s, dir.resolve("djl").toString(), "engine.kind=djl-serving", "engine.djl.endpoints=" + s.url(),
          "engine.djl.max_rolling_batch_size=4");
      JsonNode body = s.received().get(0).body();
      // LMI's TensorRT-LLM image: parameters merged into TensorRT-LLM's CompletionRequest, which reads response_format.
      assertEquals("json", body.path("parameters").path("response_format").path("type").asText(), body.toString());
      assertEquals("object", body.path("parameters").path("response_format").path("schema").path("type").asText());
      Row row = rows.where("id = 'q0'").first();
      assertTrue(((String) row.getAs("error")).startsWith("output is not valid JSON"), (String) row.getAs("error"));
      assertTrue(((String) row.getAs("output_text")).startsWith("x"), "the raw text is kept");
      assertTrue(row.getAs("constraint_sha256") != null);
    }
  }

  @Test
  void openAiWireCarriesTheFieldOfItsServer() throws Exception {
    try (DjlServingStandIn s = standIn()) {
      run(s, dir.resolve("trt").toString(), "engine.kind=trtllm-serve", "engine.trtllm.endpoints=" + s.url(),
          "engine.trtllm.max_batch_size=4");
      JsonNode trt = s.received().get(0).body();
      assertEquals("json", trt.path("response_format").path("type").asText(), trt.toString());
    }
    try (DjlServingStandIn s = standIn()) {
      run(s, dir.resolve("vllm").toString(), "engine.kind=djl-serving", "engine.djl.api=openai", "engine.djl.server=vllm",
          "engine.djl.endpoints=" + s.url(), "engine.djl.max_rolling_batch_size=4");
      JsonNode vllm = s.received().get(0).body();
      assertEquals("object", vllm.path("structured_outputs").path("json").path("type").asText(), vllm.toString());
    }
  }
}
