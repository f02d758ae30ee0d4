package dev.jgen.spark;

import dev.jgen.prompt.PreparedPrompt;
import dev.jgen.prompt.PromptSpec;
import dev.jgen.prompt.PromptTranslator;
import java.util.Iterator;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * An attempt's pending (row, sample) pairs as the requests the generation will send, rendered and tokenized by the
 * code that generates them ({@link GeneratePartition#request} and the run's {@link PromptTranslator}), for what must be
 * known before generating: which requests an earlier run answered ({@link RequestReuse}) and which rows share a
 * prefix ({@link PrefixGroups}). Rows that cannot be rendered (row errors, and duplicates that are not generated) are
 * left out: the generation reports them.
 */
final class RenderedRequests {
  static final String KEY = "_r_key";
  static final String SAMPLE = "_r_sample";
  static final String PREFIX = "_r_prefix";
  static final String ADAPTER_SHA256 = "_r_adapter_sha256";
  static final String ADAPTER_SCALE = "_r_adapter_scale";

  static final StructType SCHEMA = new StructType()
      .add(KEY, DataTypes.StringType, false)
      .add(SAMPLE, DataTypes.IntegerType, false)
      .add("_r_id", DataTypes.StringType)
      .add("_r_input_row", DataTypes.LongType, false)
      .add("_r_prompt", DataTypes.StringType, false)
      .add("_r_params", dev.jgen.delta.OutputSchema.PARAMS)
      .add("_r_constraint", DataTypes.StringType)
      .add(ADAPTER_SHA256, DataTypes.StringType)
      .add(ADAPTER_SCALE, DataTypes.DoubleType)
      // The hash of the prompt's first job.prefix_group_tokens token ids (all of them when shorter) and its adapter.
      .add(PREFIX, DataTypes.LongType, false);

  private RenderedRequests() {}

  static Dataset<Row> of(SparkSession spark, Dataset<Row> pending, JobPlan plan, Broadcast<PromptSpec> prompts,
      int prefixTokens, boolean adapterInPrefix) {
    return spark.createDataFrame(pending.javaRDD().mapPartitions(new Render(plan, prompts, prefixTokens, adapterInPrefix)), SCHEMA);
  }

  private static final class Render implements FlatMapFunction<Iterator<Row>, Row> {
    private final JobPlan plan;
    private final Broadcast<PromptSpec> prompts;
    private final int prefixTokens;
    private final boolean adapterInPrefix;

    Render(JobPlan plan, Broadcast<PromptSpec> prompts, int prefixTokens, boolean adapterInPrefix) {
      this.plan = plan;
      this.prompts = prompts;
      this.prefixTokens = prefixTokens;
      this.adapterInPrefix = adapterInPrefix;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
      PromptTranslator translator = PromptTranslator.shared(prompts.value());
      // Streams: a partition's requests are never all held at once.
      return new Iterator<>() {
        private Row next = advance();

        private Row advance() {
          while (rows.hasNext()) {
            Row rendered = render(translator, rows.next());
            if (rendered != null) {
              return rendered;
            }
          }
          return null;
        }

        @Override
        public boolean hasNext() {
          return next != null;
        }

        @Override
        public Row next() {
          if (next == null) {
            throw new java.util.NoSuchElementException();
          }
          Row r = next;
          next = advance();
          return r;
        }
      };
    }

    private Row render(PromptTranslator translator, Row row) {
      GeneratePartition.Request r = GeneratePartition.request(plan, row);
      if (r.error() != null || r.duplicateOf() != null) {
        return null;
      }
      PreparedPrompt prompt;
      try {
        prompt = translator.prepare(r.chat(), r.params().maxNewTokens());
      } catch (RuntimeException e) {
        return null; // a row error (or a run error) that the generation reports with the row
      }
      int[] ids = prompt.tokenIds();
      return RowFactory.create(r.rowKey(), r.sample(), r.id(), r.inputRow(), prompt.text(),
          GeneratePartition.paramsRow(r.params()), r.constraint() == null ? null : r.constraint().sha256(),
          r.adapter() == null ? null : r.adapter().sha256(), r.adapter() == null ? null : r.adapter().scale(),
          ids == null ? (long) prompt.text().hashCode()
              : dev.jgen.engine.PromptPrefix.hash(ids, prefixTokens, r.adapter() == null || !adapterInPrefix ? null : r.adapter().sha256()));
    }
  }
}
