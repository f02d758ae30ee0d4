package dev.jgen.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.catalog.ModelCatalog;
import dev.jgen.catalog.ModelResolver;
import dev.jgen.catalog.ResolvedModel;
import dev.jgen.config.ConfigException;
import dev.jgen.prompt.ChatInput;
import dev.jgen.prompt.InvalidRowException;
import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptSpecs;
import dev.jgen.prompt.PromptTranslator;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * {@code jgen render}: the job's rendering and tokenization without generation, one JSON line in, one out, for
 * previewing and costing a dataset. Input lines: {@code {"id", "messages", "add_generation_prompt"?, "kwargs"?, "tools"?}};
 * output lines: {@code {"id", "prompt", "token_ids"? , "error"}}. A bad line gives an error line, never a stop.
 */
final class RenderCommand {
  private static final ObjectMapper JSON = new ObjectMapper();

  private RenderCommand() {}

  static int run(Args a, Path defaultConf, PrintStream out, PrintStream err) {
    String modelId = a.get("model");
    String modelDir = a.get("model-dir");
    if ((modelId == null) == (modelDir == null)) {
      throw new Args.UsageException("render needs exactly one of --model ID or --model-dir DIR");
    }
    if (a.get("in") == null || a.get("out") == null) {
      throw new Args.UsageException("render needs --in FILE.jsonl and --out FILE.jsonl");
    }
    Path in = Path.of(a.get("in"));
    if (!Files.isRegularFile(in)) {
      throw new ConfigException("--in: no such file: " + in);
    }
    Path conf = a.get("conf-dir") != null ? Path.of(a.get("conf-dir")) : defaultConf;
    ModelResolver resolver = new ModelResolver(ModelCatalog.load(conf), ModelResolver.defaultCacheDir());
    ResolvedModel model = resolver.resolve(modelId, modelDir, false);
    // A renderer previews exactly what transformers would render, so control text in content is allowed unless asked.
    String guard = a.options.getOrDefault("special-tokens-in-content", "allow");
    PromptTranslator translator = new PromptTranslator(PromptSpecs.forModel(model, Integer.MAX_VALUE, guard, "last_user"));
    long lines = 0;
    long errors = 0;
    try (BufferedReader r = Files.newBufferedReader(in, StandardCharsets.UTF_8);
        BufferedWriter w = Files.newBufferedWriter(Path.of(a.get("out")), StandardCharsets.UTF_8)) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.isBlank()) {
          continue;
        }
        lines++;
        ObjectNode o = render(line, lines, translator);
        if (!o.get("error").isNull()) {
          errors++;
        }
        w.write(o.toString());
        w.newLine();
      }
    } catch (IOException e) {
      throw new ConfigException("render: " + e.getMessage(), e);
    }
    err.printf("jgen: rendered %d lines with %s (%s): %d ok, %d error -> %s%n", lines, model.modelId(),
        translator.spec().templateOrigin(), lines - errors, errors, a.get("out"));
    return 0;
  }

  @SuppressWarnings("unchecked")
  static ObjectNode render(String line, long lineNo, PromptTranslator translator) {
    ObjectNode o = JSON.createObjectNode();
    o.putNull("id");
    try {
      Map<String, Object> row;
      try {
        row = JSON.readValue(line, new TypeReference<Map<String, Object>>() {});
      } catch (IOException e) {
        throw new InvalidRowException("line " + lineNo + " is not a JSON object");
      }
      Object id = row.get("id");
      if (id != null) {
        o.put("id", id.toString());
      }
      if (!(row.get("messages") instanceof List<?> messages)) {
        throw new InvalidRowException("line " + lineNo + ": messages must be an array");
      }
      Object agp = row.getOrDefault("add_generation_prompt", Boolean.FALSE);
      if (!(agp instanceof Boolean)) {
        throw new InvalidRowException("line " + lineNo + ": add_generation_prompt must be true or false");
      }
      Object kwargs = row.get("kwargs");
      Object tools = row.get("tools");
      ChatInput chat = new ChatInput((List<Map<String, Object>>) messages, null, null, Map.of(), (Boolean) agp,
          kwargs instanceof Map ? (Map<String, Object>) kwargs : null, tools instanceof List ? (List<Object>) tools : null);
      PreparedPrompt p = translator.renderVerbatim(chat);
      o.put("prompt", p.text());
      if (p.tokenIds() != null) {
        ArrayNode ids = o.putArray("token_ids");
        for (int t : p.tokenIds()) {
          ids.add(t);
        }
      }
      o.putNull("error");
    } catch (InvalidRowException e) {
      o.put("error", e.getMessage());
    }
    return o;
  }
}
