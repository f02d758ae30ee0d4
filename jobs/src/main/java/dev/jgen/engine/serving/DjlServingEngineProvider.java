package dev.jgen.engine.serving;

import dev.jgen.engine.Engine;
import dev.jgen.engine.EngineProvider;
import dev.jgen.engine.EngineSpec;

/**
 * {@code engine.kind=djl-serving}: DJL Serving (LMI: TensorRT-LLM, vLLM) over HTTP. Options (the {@code engine.djl.*}
 * keys without the prefix): {@code mode} endpoint|launch, {@code endpoints}, {@code api} invocations|openai,
 * {@code command}, {@code window}, {@code max_rolling_batch_size}, {@code max_num_tokens}, {@code max_input_len},
 * {@code max_output_len}, {@code tensor_parallel_degree}, {@code dtype}, {@code quantize}, {@code job_queue_size},
 * {@code request_timeout_s}, {@code ready_timeout_s}, {@code retries}, {@code gpus_per_server}, {@code base_port}, and
 * {@code bos_text} (stripped from the start of every prompt: the server adds BOS). Internal ones with defaults:
 * {@code retry_base_ms} (200), {@code retry_max_ms} (10000), {@code stop_grace_s} (10), {@code gpu_addresses} (the
 * executor's GPUs for launch mode when Spark gives none; also system property {@code jgen.djl.gpu_addresses}),
 * {@code metrics_path} (/metrics), {@code app_id} and {@code state_dir} (launch mode's record of running servers).
 */
public final class DjlServingEngineProvider implements EngineProvider {
  @Override
  public String kind() {
    return ServerKind.DJL.kind();
  }

  @Override
  public Engine open(EngineSpec spec) {
    return new ServingEngine(spec, ServerKind.DJL);
  }
}
