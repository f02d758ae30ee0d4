package dev.jgen.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.config.JobConfig;
import dev.jgen.curate.CurateJob;
import dev.jgen.curate.CuratedExport;
import dev.jgen.spark.SparkSessions;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.SparkSession;

/** {@code generate} with {@code job.kind=curate}, and {@code export sft|dpo} of its table. */
final class CurateCommands {
  private static final ObjectMapper JSON = new ObjectMapper();

  private CurateCommands() {}

  static int curate(JobConfig config, PrintStream out, PrintStream err) {
    CurateJob.check(config); // before Spark starts: missing tables, output over a source
    SparkSession spark = SparkSessions.create(config);
    spark.sparkContext().setLogLevel("WARN");
    err.printf("jgen: curate %s%s -> %s%n", config.string(dev.jgen.config.ConfigKeys.CURATE_GENERATIONS),
        config.string(dev.jgen.config.ConfigKeys.CURATE_SCORES) == null ? ""
            : " (scores " + config.string(dev.jgen.config.ConfigKeys.CURATE_SCORES) + ")",
        config.string(dev.jgen.config.ConfigKeys.OUTPUT_PATH));
    CurateJob.Result r = CurateJob.of(spark, config).execute();
    StringBuilder reasons = new StringBuilder();
    for (Map.Entry<String, Long> e : r.dropped().entrySet()) {
      reasons.append(reasons.length() == 0 ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue());
    }
    out.printf(Locale.ROOT, "jgen: curate run %s: %d candidates -> %d kept, %d dropped (%s)%s; table %s%n", r.runId(),
        r.candidates(), r.kept(), r.droppedTotal(), reasons, r.written() ? "" : "; already curated, nothing written", r.output());
    out.printf("jgen: export: jgen export sft --output %s --run %s --to DIR | jgen export dpo --output %s --run %s --to DIR%n",
        r.output(), r.runId(), r.output(), r.runId());
    ObjectNode o = JSON.createObjectNode();
    o.put("run_id", r.runId());
    o.put("rows_in", r.candidates());
    o.put("ok", r.kept());
    o.put("error", r.dropped().get("error"));
    o.put("output", r.output());
    o.put("prompt_tokens", 0);
    o.put("completion_tokens", 0);
    o.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
    o.put("attempt", 1);
    o.put("kept", r.kept());
    o.put("dropped", r.droppedTotal());
    o.set("drop_reasons", JSON.valueToTree(r.dropped()));
    o.put("written", r.written());
    o.put("jvm_peak_heap_after_gc_mb", HeapAfterGc.peakMb());
    out.println(o.toString());
    return 0;
  }

  static int export(String[] argv, PrintStream out) {
    boolean dpo = argv[1].equals("dpo");
    Args a = Args.parse(argv, 2, dpo ? Set.of("output", "run", "to", "min-margin") : Set.of("output", "run", "to", "format"),
        Set.of("parquet"));
    if (a.get("output") == null || a.get("to") == null) {
      throw new Args.UsageException("export " + argv[1] + " needs --output CURATED_TABLE and --to DIR");
    }
    Double margin = null;
    if (a.get("min-margin") != null) {
      try {
        margin = Double.parseDouble(a.get("min-margin"));
      } catch (NumberFormatException e) {
        throw new Args.UsageException("--min-margin: not a number: " + a.get("min-margin"));
      }
    }
    SparkSession spark = SparkSessions.forReading("jgen-export");
    spark.sparkContext().setLogLevel("WARN");
    try {
      CuratedExport.Result r = dpo
          ? CuratedExport.dpo(spark, a.get("output"), a.get("run"), Path.of(a.get("to")), margin, a.flag("parquet"))
          : CuratedExport.sft(spark, a.get("output"), a.get("run"), Path.of(a.get("to")),
              a.get("format") == null ? "messages" : a.get("format"), a.flag("parquet"));
      out.printf("jgen: exported curate run %s: %d %s to %s (train.jsonl%s, README.md)%n", r.runId(), r.lines(),
          dpo ? "preference pairs" : "conversations", r.dir(), a.flag("parquet") ? ", train.parquet" : "");
      ObjectNode o = JSON.createObjectNode();
      o.put("run_id", r.runId());
      o.put("lines", r.lines());
      o.set("counts", JSON.valueToTree(r.details()));
      o.put("to", r.dir().toString());
      out.println(o.toString());
      return 0;
    } catch (IllegalArgumentException e) {
      throw new Args.UsageException(e.getMessage());
    }
  }
}
