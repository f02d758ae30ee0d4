package dev.jgen.testing.djl;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A fake {@code trtllm-serve} command for launch-mode tests: a bash script that parses its command line the way
 * {@code tensorrt_llm/commands/serve.py} defines it (one MODEL argument, then {@code --flag value} pairs), rejects
 * unknown flags and missing required ones as click would (exit 2 with "Error: ..."), checks that the
 * {@code --extra_llm_api_options} file exists, records its arguments, environment and options file into
 * {@code <records>/launch-<pid>.*}, then {@code exec}s the project's stand-in ({@link StandInMain}) on the OpenAI wire at
 * {@code --port}, with {@code --max_batch_size} as its batch and trtllm-serve's JSON {@code /metrics}.
 */
public final class FakeTrtllmServe {
  private FakeTrtllmServe() {}

  /** Flags trtllm-serve 1.x knows (a subset of serve.py's; the ones jgen may pass). */
  static final List<String> KNOWN = List.of("--host", "--port", "--backend", "--tp_size", "--max_batch_size", "--max_num_tokens",
      "--max_seq_len", "--kv_cache_free_gpu_memory_fraction", "--extra_llm_api_options", "--tokenizer", "--log_level");
  /** Flags jgen must always pass. */
  static final List<String> REQUIRED = List.of("--host", "--port", "--tp_size", "--max_batch_size", "--max_num_tokens",
      "--kv_cache_free_gpu_memory_fraction", "--extra_llm_api_options");

  /** One recorded launch. */
  public record Launch(long pid, String model, Map<String, String> flags, Map<String, String> env, String options) {}

  /** Writes the script; {@code failWith} non-null makes it print that and exit 3 while "loading" instead of serving. */
  public static Path write(Path dir, Path records, Path tinyModel, String failWith) throws IOException {
    Files.createDirectories(dir);
    Files.createDirectories(records);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    StringBuilder s = new StringBuilder();
    s.append("#!/usr/bin/env bash\n");
    s.append("# fake trtllm-serve for jgen's launch-mode tests\n");
    s.append("rec=").append(q(records.toString())).append("/launch-$$\n");
    s.append("printf '%s\\n' \"$@\" > \"$rec.args\"\n");
    s.append("env | grep -E '^(CUDA_VISIBLE_DEVICES)=' | sort > \"$rec.env\"\n");
    s.append("model=''; declare -A flag\n");
    s.append("while [ $# -gt 0 ]; do\n");
    s.append("  case \"$1\" in\n");
    s.append("    ").append(String.join("|", KNOWN)).append(")\n");
    s.append("      [ $# -ge 2 ] || { echo \"Error: Option '$1' requires an argument.\" >&2; exit 2; }\n");
    s.append("      flag[$1]=\"$2\"; shift 2;;\n");
    s.append("    --*) echo \"Error: No such option: $1\" >&2; exit 2;;\n");
    s.append("    *) [ -z \"$model\" ] || { echo \"Error: Got unexpected extra argument ($1)\" >&2; exit 2; }; model=\"$1\"; shift;;\n");
    s.append("  esac\n");
    s.append("done\n");
    s.append("[ -n \"$model\" ] || { echo \"Error: Missing argument 'MODEL'.\" >&2; exit 2; }\n");
    for (String r : REQUIRED) {
      s.append("[ -n \"${flag[").append(r).append("]}\" ] || { echo 'fake trtllm-serve: jgen did not pass ").append(r)
          .append("' >&2; exit 2; }\n");
    }
    s.append("opts=\"${flag[--extra_llm_api_options]}\"\n");
    s.append("[ -f \"$opts\" ] || { echo \"fake trtllm-serve: no options file $opts\" >&2; exit 2; }\n");
    s.append("cp \"$opts\" \"$rec.yaml\"\n");
    s.append("echo \"fake trtllm-serve: $model on GPUs ${CUDA_VISIBLE_DEVICES-unset} at ${flag[--host]}:${flag[--port]}\"\n");
    s.append("echo '[TensorRT-LLM] TensorRT-LLM version: 1.2.0 (fake)'\n");
    if (failWith != null) {
      s.append("echo 'Loading model weights ...'\n");
      s.append("echo ").append(q(failWith)).append("\n");
      s.append("exit 3\n");
    } else {
      s.append("exec ").append(q(java)).append(" -Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
          .append(System.getProperty("jgen.cache") == null ? "" : " -Djgen.cache=" + q(System.getProperty("jgen.cache")))
          .append(" -cp ").append(q(FakeDjlServing.classPath()))
          .append(" dev.jgen.testing.djl.StandInMain --tiny-model ").append(q(tinyModel.toString()))
          .append(" --step-ms 5 --metrics trtllm --port \"${flag[--port]}\" --batch \"${flag[--max_batch_size]}\"\n");
    }
    Path script = dir.resolve(failWith == null ? "trtllm-serve" : "trtllm-serve-failing");
    Files.writeString(script, s.toString(), StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    return script;
  }

  /** The launches recorded so far. */
  public static List<Launch> launches(Path records) throws IOException {
    List<Launch> out = new ArrayList<>();
    try (var files = Files.list(records)) {
      for (Path args : files.filter(f -> f.getFileName().toString().endsWith(".args")).sorted().toList()) {
        String base = args.getFileName().toString().replace(".args", "");
        long pid = Long.parseLong(base.substring("launch-".length()));
        List<String> argv = Files.readAllLines(args);
        String model = null;
        Map<String, String> flags = new LinkedHashMap<>();
        for (int i = 0; i < argv.size(); i++) {
          if (argv.get(i).startsWith("--") && i + 1 < argv.size()) {
            flags.put(argv.get(i), argv.get(++i));
          } else if (model == null) {
            model = argv.get(i);
          }
        }
        Map<String, String> env = new LinkedHashMap<>();
        Path envFile = records.resolve(base + ".env");
        if (Files.exists(envFile)) {
          for (String line : Files.readAllLines(envFile)) {
            int eq = line.indexOf('=');
            if (eq > 0) {
              env.put(line.substring(0, eq), line.substring(eq + 1));
            }
          }
        }
        Path yaml = records.resolve(base + ".yaml");
        out.add(new Launch(pid, model, flags, env, Files.exists(yaml) ? Files.readString(yaml) : null));
      }
    }
    return out;
  }

  private static String q(String s) {
    return "'" + s.replace("'", "'\"'\"'") + "'";
  }
}
