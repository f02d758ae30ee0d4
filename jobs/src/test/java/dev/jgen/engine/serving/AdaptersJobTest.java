package dev.jgen.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.jgen.engine.Completion;
import dev.jgen.engine.CompletionRequest;
import dev.jgen.engine.EngineSpec;
import dev.jgen.engine.LoraAdapter;
import dev.jgen.engine.SamplingParams;
import dev.jgen.testing.Cli;
import dev.jgen.testing.TestFiles;
import dev.jgen.testing.TestSpark;
import dev.jgen.testing.djl.DjlServingStandIn;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 31 items 1 and 3: rows pick a LoRA adapter from model.adapters (column adapter, adapter_scale), an unknown one
 * is the row's error naming the known ones, each row records the adapter's name, fingerprint and scale, and the GPU
 * servers receive the fields they read: DJL Serving's {@code adapters}, trtllm-serve's {@code lora_request}; their
 * launch recipes enable LoRA.
 */
class AdaptersJobTest {
  @TempDir Path dir;

  /** A PEFT-shaped adapter directory (what the GPU servers load): its config and a weights file. */
  private Path peft(String name, int rank) throws Exception {
    Path d = Files.createDirectories(dir.resolve(name));
    Files.writeString(d.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": " + rank + "}");
    Files.writeString(d.resolve("adapter_model.safetensors"), "weights of " + name);
    return d;
  }

  private Path config(String engineLines, Path keigo, Path legal) throws Exception {
    String yaml = String.join("\n",
        "model:", "  id: tiny-llama-ja",
        "  adapters:", "    keigo: " + keigo, "    legal: {path: " + legal + ", scale: 0.8}",
        "engine:", engineLines,
        "generation:", "  max_new_tokens: 8", "  temperature: 0");
    Path f = dir.resolve("adapters.yaml");
    Files.writeString(f, yaml + "\n");
    return f;
  }

  @Test
  void rowsPickTheirAdapterTheServerReceivesItAndTheRowRecordsIt() throws Exception {
    Path keigo = peft("keigo", 8);
    Path legal = peft("legal", 16);
    Path in = TestFiles.jsonl(dir, "in.jsonl", List.of(
        "{\"id\": \"k\", \"prompt\": \"敬語で挨拶してください。\", \"adapter\": \"keigo\"}",
        "{\"id\": \"l\", \"prompt\": \"契約書の条項を説明してください。\", \"adapter\": \"legal\", \"adapter_scale\": 0.5}",
        "{\"id\": \"b\", \"prompt\": \"天気について話してください。\"}",
        "{\"id\": \"m\", \"prompt\": \"症状について教えてください。\", \"adapter\": \"medical\"}"));
    try (DjlServingStandIn s = DjlServingStandIn.start(new DjlServingStandIn.Options())) {
      String out = dir.resolve("gen").toString();
      Cli r = Cli.run("generate", "--config", config("  kind: djl-serving\n  djl:\n    endpoints: [\"" + s.url() + "\"]", keigo, legal).toString(),
          "--set", "input.path=" + in, "--set", "output.path=" + out, "--set", "run.id=adapters");
      assertEquals(0, r.code(), r.err() + r.out());
      JsonNode sum = r.summary();
      assertEquals(3, sum.get("ok").asLong(), sum.toString());
      assertEquals(1, sum.get("error").asLong(), sum.toString());
      Map<String, Row> rows = new HashMap<>();
      for (Row row : TestSpark.get().read().format("delta").load(out).collectAsList()) {
        rows.put(row.getAs("id"), row);
      }
      assertTrue(String.valueOf(rows.get("m").<String>getAs("error")).contains("'medical' is not in model.adapters (known: keigo, legal)"),
          String.valueOf(rows.get("m")));
      assertEquals("keigo", rows.get("k").getAs("adapter"));
      assertEquals(1.0, (Double) rows.get("k").getAs("adapter_scale"));
      assertEquals("legal", rows.get("l").getAs("adapter"));
      assertEquals(0.5, (Double) rows.get("l").getAs("adapter_scale"), "the row's adapter_scale over the configured 0.8");
      assertNotEquals(rows.get("k").<String>getAs("adapter_sha256"), rows.get("l").<String>getAs("adapter_sha256"));
      assertEquals(64, rows.get("k").<String>getAs("adapter_sha256").length());
      assertNull(rows.get("b").getAs("adapter"), "no adapter: the base model");
      // What the server received, by prompt.
      Map<String, JsonNode> byPrompt = new HashMap<>();
      for (DjlServingStandIn.Received rec : s.received()) {
        byPrompt.put(rec.body().path("inputs").asText(), rec.body());
      }
      assertEquals(3, byPrompt.size(), "the unknown adapter's row was never sent: " + byPrompt.keySet());
      for (Map.Entry<String, JsonNode> e : byPrompt.entrySet()) {
        String expected = e.getKey().contains("敬語") ? "keigo" : e.getKey().contains("契約書") ? "legal" : null;
        if (expected == null) {
          assertFalse(e.getValue().has("adapters"), e.getValue().toString());
        } else {
          assertEquals(expected, e.getValue().path("adapters").asText(), e.getValue().toString());
        }
      }
    }
  }

  @Test
  void trtllmServeReceivesALoraRequestAndBothRecipesEnableLora() throws Exception {
    Path keigo = peft("keigo", 8);
    AtomicReference<String> body = new AtomicReference<>();
    HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    http.createContext("/v1/completions", ex -> {
      body.set(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
      byte[] answer = "{\"choices\":[{\"text\":\"はい\",\"finish_reason\":\"stop\"}],\"usage\":{\"completion_tokens\":1}}"
          .getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(200, answer.length);
      ex.getResponseBody().write(answer);
      ex.close();
    });
    http.start();
    ServingEngine engine = new ServingEngine(ServingEngineTest.trtllm("http://127.0.0.1:" + http.getAddress().getPort()),
        ServerKind.TRTLLM);
    try {
      LoraAdapter a = new LoraAdapter("keigo", 3, keigo.toString(), 1.0, "0".repeat(64));
      Completion c = engine.submit(new CompletionRequest("r", "<s>こんにちは", new int[] {1, 2}, new SamplingParams(4, 0.0, 1.0, 0, 1.0, 1,
          List.of()), null, a)).get(30, TimeUnit.SECONDS);
      assertEquals("はい", c.text());
      JsonNode sent = new com.fasterxml.jackson.databind.ObjectMapper().readTree(body.get());
      assertEquals("keigo", sent.path("lora_request").path("lora_name").asText(), sent.toString());
      assertEquals(3, sent.path("lora_request").path("lora_int_id").asInt());
      assertEquals(keigo.toString(), sent.path("lora_request").path("lora_path").asText());
    } finally {
      engine.close();
      http.stop(0);
    }
    Map<String, String> opts = Map.of("lora_names", "keigo,legal", "lora_paths", keigo + "," + keigo, "max_lora_rank", "16");
    Map<String, Object> trt = new TrtllmServeRecipe(new EngineSpec("trtllm-serve", "/models/m", opts)).llmApiOptions();
    @SuppressWarnings("unchecked")
    Map<String, Object> lora = (Map<String, Object>) trt.get("lora_config");
    assertEquals(List.of(keigo.toString(), keigo.toString()), lora.get("lora_dir"));
    assertEquals(16, lora.get("max_lora_rank"));
    assertEquals(2, lora.get("max_loras"));
    DjlServingRecipe djl = new DjlServingRecipe(new EngineSpec("djl-serving", "/models/m", opts));
    Map<String, String> props = djl.servingProperties(List.of("0"));
    assertEquals("true", props.get("option.enable_lora"));
    assertEquals("2", props.get("option.max_loras"));
    assertEquals("16", props.get("option.max_lora_rank"));
    djl.prepare(0, List.of("0"), 8080, dir.resolve("djl"));
    assertTrue(Files.isSymbolicLink(dir.resolve("djl/model/adapters/legal")), "the adapters directory beside serving.properties");
    assertEquals(keigo.toAbsolutePath(), Files.readSymbolicLink(dir.resolve("djl/model/adapters/keigo")));
  }

  @Test
  void anEngineWithoutPerRowAdaptersIsAConfigError() throws Exception {
    Path keigo = peft("keigo", 8);
    Cli r = Cli.run("generate", "--config", config("  kind: echo", keigo, keigo).toString(),
        "--set", "input.path=" + TestFiles.conf().resolve("data/demo-prompts.jsonl"), "--set", "output.path=" + dir.resolve("o"));
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("model.adapters: engine.kind=echo does not apply per-row LoRA adapters"), r.err());
  }

  /** llama.cpp reads a GGUF adapter: a PEFT directory given to engine.kind=llamacpp fails before Spark starts. */
  @Test
  void aPeftDirectoryForTheLlamaCppEngineIsAConfigErrorNamingTheAdapter() throws Exception {
    Path keigo = peft("keigo", 8);
    Cli r = Cli.run("generate", "--config", config("  kind: llamacpp", keigo, keigo).toString(),
        "--set", "input.path=" + TestFiles.conf().resolve("data/demo-prompts.jsonl"), "--set", "output.path=" + dir.resolve("o"));
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("model.adapters.keigo: engine.kind=llamacpp reads LoRA adapters as one GGUF file"), r.err());
  }
}
