package dev.jgen.config;

import dev.jgen.config.ConfigKey.Type;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** Every key a job config may hold. Names are a public contract: schedulers and notebooks set them with --set. */
public final class ConfigKeys {
  public static final String INPUT_PATH = "input.path";
  public static final String INPUT_FORMAT = "input.format";
  public static final String INPUT_ID_COLUMN = "input.id_column";
  public static final String MODEL_ID = "model.id";
  public static final String MODEL_PATH = "model.path";
  public static final String MODEL_ADAPTERS = "model.adapters";
  public static final String GENERATION_ADAPTER = "generation.adapter";
  public static final String ENGINE_KIND = "engine.kind";
  public static final String ENGINE_THREADS = "engine.threads";
  public static final String ENGINE_PARALLEL = "engine.parallel";
  public static final String ENGINE_CTX_SIZE = "engine.ctx_size";
  public static final String ENGINE_REQUEST_TIMEOUT_S = "engine.request_timeout_s";
  public static final String ENGINE_PREFIX_CACHE = "engine.prefix_cache";
  public static final String ENGINE_GROUP_BY_ADAPTER = "engine.group_by_adapter";
  public static final String MAX_NEW_TOKENS = "generation.max_new_tokens";
  public static final String TEMPERATURE = "generation.temperature";
  public static final String TOP_P = "generation.top_p";
  public static final String TOP_K = "generation.top_k";
  public static final String REPETITION_PENALTY = "generation.repetition_penalty";
  public static final String SEED = "generation.seed";
  public static final String STOP = "generation.stop";
  public static final String N = "generation.n";
  public static final String OUTPUT_PATH = "output.path";
  public static final String RUN_ID = "run.id";
  public static final String RUN_MODE = "run.mode";
  public static final String RUNS_PATH = "output.runs_path";
  public static final String OPTIMIZE = "output.optimize";
  public static final String JOB_KIND = "job.kind";
  public static final String INPUT_DEDUP = "input.dedup";
  public static final String ATTRIBUTES_SWEEP = "attributes.sweep";
  public static final String MTBENCH_TEMPERATURES = "mtbench.temperatures";
  public static final String SELFCHAT_TURNS = "selfchat.turns";
  public static final String SELFCHAT_USER_PROMPT = "selfchat.user_prompt";
  // ---- curate-export branch: job.kind=curate (issue 27) ----
  public static final String CURATE_GENERATIONS = "curate.generations";
  public static final String CURATE_SCORES = "curate.scores";
  public static final String CURATE_INPUT = "curate.input";
  public static final String CURATE_MIN_SCORE = "curate.min_score";
  public static final String CURATE_BEST_OF_N = "curate.best_of_n";
  public static final String CURATE_NEAR_DUP_THRESHOLD = "curate.near_dup_threshold";
  public static final String CURATE_NGRAM = "curate.ngram";
  public static final String CURATE_LSH_BANDS = "curate.lsh_bands";
  public static final String CURATE_LSH_ROWS = "curate.lsh_rows";
  public static final String CURATE_DPO_MIN_MARGIN = "curate.dpo_min_margin";
  // MT-Bench judging (job.kind=judge, issue 14): the judge model, FastChat's questions, references and judge prompts.
  public static final String JUDGE_MODEL_ID = "judge.model.id";
  public static final String JUDGE_MODEL_PATH = "judge.model.path";
  public static final String JUDGE_QUESTIONS = "judge.questions";
  public static final String JUDGE_REFERENCES = "judge.references";
  public static final String JUDGE_PROMPTS = "judge.prompts";
  public static final String JUDGE_LANGUAGE = "judge.language";
  public static final String JUDGE_REF_CATEGORIES = "judge.ref_categories";
  public static final String JUDGE_NAME = "judge.name";
  public static final String JUDGE_CONSTRAIN_RATING = "judge.constrain_rating";
  /** FastChat's NEED_REF_CATS (fastchat/llm_judge/common.py). */
  public static final List<String> FASTCHAT_REF_CATEGORIES = List.of("math", "reasoning", "coding", "arena-hard-200");
  /** FastChat's judge max_tokens for its API judges (common.py, chat_completion_openai calls). */
  public static final int FASTCHAT_JUDGE_MAX_TOKENS = 2048;
  // Scoring of generations by a local judge model (job.kind=score, issue 27).
  public static final String SCORE_MODEL_ID = "score.model.id";
  public static final String SCORE_MODEL_PATH = "score.model.path";
  public static final String SCORE_RUBRIC = "score.rubric";
  public static final String SCORE_JSON = "score.json";
  public static final String SCORE_CONSTRAIN_RATING = "score.constrain_rating";
  public static final String CHUNK_ROWS = "job.chunk_rows";
  public static final String PARTITIONS = "job.partitions";
  public static final String LONGEST_FIRST = "job.longest_first";
  public static final String COMMIT_INTERVAL_S = "job.commit_interval_s";
  public static final String CHUNKS_IN_FLIGHT = "job.chunks_in_flight";
  public static final String MAX_FAILURE_RATE = "job.max_failure_rate";
  public static final String FAILURE_WINDOW = "job.failure_window";
  public static final String MAX_COMPLETION_TOKENS_TOTAL = "job.max_completion_tokens_total";
  public static final String MAX_PROMPT_TOKENS_TOTAL = "job.max_prompt_tokens_total";
  public static final String DEADLINE = "job.deadline";
  public static final String STOP_GRACE_S = "job.stop_grace_s";
  public static final String REUSE = "job.reuse";
  public static final String PREFIX_GROUP_TOKENS = "job.prefix_group_tokens";
  public static final String SPECIAL_TOKENS_IN_CONTENT = "prompt.special_tokens_in_content";
  public static final String ATTRIBUTES_APPLY_TO = "attributes.apply_to";
  public static final String SPARK_MASTER = "spark.master";
  public static final String SPARK_APP_NAME = "spark.app_name";
  public static final String SPARK_CONF = "spark.conf";

  public static final List<String> INPUT_FORMATS = List.of("jsonl", "parquet", "delta", "openai-batch");
  public static final List<String> ENGINE_KINDS = List.of("llamacpp", "djl-serving", "trtllm-serve", "echo", "none");

  // DJL Serving (LMI, TensorRT-LLM) on GPUs: engine.djl.*
  public static final String DJL_MODE = "engine.djl.mode";
  public static final String DJL_ENDPOINTS = "engine.djl.endpoints";
  public static final String DJL_API = "engine.djl.api";
  public static final String DJL_COMMAND = "engine.djl.command";
  public static final String DJL_MODEL_ID = "engine.djl.model_id";
  public static final String DJL_WINDOW = "engine.djl.window";
  public static final String DJL_MAX_ROLLING_BATCH_SIZE = "engine.djl.max_rolling_batch_size";
  public static final String DJL_MAX_NUM_TOKENS = "engine.djl.max_num_tokens";
  public static final String DJL_MAX_INPUT_LEN = "engine.djl.max_input_len";
  public static final String DJL_MAX_OUTPUT_LEN = "engine.djl.max_output_len";
  public static final String DJL_TENSOR_PARALLEL_DEGREE = "engine.djl.tensor_parallel_degree";
  public static final String DJL_DTYPE = "engine.djl.dtype";
  public static final String DJL_QUANTIZE = "engine.djl.quantize";
  public static final String DJL_JOB_QUEUE_SIZE = "engine.djl.job_queue_size";
  public static final String DJL_PREFIX_CACHING = "engine.djl.enable_prefix_caching";
  public static final String DJL_REQUEST_TIMEOUT_S = "engine.djl.request_timeout_s";
  public static final String DJL_READY_TIMEOUT_S = "engine.djl.ready_timeout_s";
  public static final String DJL_RETRIES = "engine.djl.retries";
  public static final String DJL_GPUS_PER_SERVER = "engine.djl.gpus_per_server";
  public static final String DJL_BASE_PORT = "engine.djl.base_port";

  // ---- serving branch: TensorRT-LLM's own server, trtllm-serve (engine.kind=trtllm-serve): engine.trtllm.* ----
  // Flags from TensorRT-LLM 1.x tensorrt_llm/commands/serve.py; see docs/serving.md for which server to pick when.
  // "trtllm-serve" joined ENGINE_KINDS together with its provider (TrtllmServeEngineProvider, a JobEngineProvider), so
  // that a config naming a kind never validates while no engine of that kind is on the class path.
  public static final String TRTLLM_MODE = "engine.trtllm.mode";
  public static final String TRTLLM_ENDPOINTS = "engine.trtllm.endpoints";
  public static final String TRTLLM_COMMAND = "engine.trtllm.command";
  public static final String TRTLLM_MODEL_ID = "engine.trtllm.model_id";
  public static final String TRTLLM_BACKEND = "engine.trtllm.backend";
  public static final String TRTLLM_GPU = "engine.trtllm.gpu";
  public static final String TRTLLM_PRECISION = "engine.trtllm.precision";
  public static final String TRTLLM_TP_SIZE = "engine.trtllm.tp_size";
  public static final String TRTLLM_GPUS_PER_SERVER = "engine.trtllm.gpus_per_server";
  public static final String TRTLLM_MAX_BATCH_SIZE = "engine.trtllm.max_batch_size";
  public static final String TRTLLM_MAX_NUM_TOKENS = "engine.trtllm.max_num_tokens";
  public static final String TRTLLM_MAX_SEQ_LEN = "engine.trtllm.max_seq_len";
  public static final String TRTLLM_KV_FRACTION = "engine.trtllm.kv_cache_free_gpu_memory_fraction";
  public static final String TRTLLM_BLOCK_REUSE = "engine.trtllm.enable_block_reuse";
  public static final String TRTLLM_KV_DTYPE = "engine.trtllm.kv_cache_dtype";
  public static final String TRTLLM_EXTRA_OPTIONS = "engine.trtllm.extra_llm_api_options";
  public static final String TRTLLM_WINDOW = "engine.trtllm.window";
  public static final String TRTLLM_REQUEST_TIMEOUT_S = "engine.trtllm.request_timeout_s";
  public static final String TRTLLM_READY_TIMEOUT_S = "engine.trtllm.ready_timeout_s";
  public static final String TRTLLM_RETRIES = "engine.trtllm.retries";
  public static final String TRTLLM_BASE_PORT = "engine.trtllm.base_port";
  // Structured output (issue 13): at most one of the three; per-row overrides in columns json_schema and choice.
  public static final String JSON_SCHEMA = dev.jgen.structured.OutputConstraint.KEY_JSON_SCHEMA;
  public static final String GRAMMAR = dev.jgen.structured.OutputConstraint.KEY_GRAMMAR;
  public static final String CHOICE = dev.jgen.structured.OutputConstraint.KEY_CHOICE;
  public static final String DJL_SERVER = "engine.djl.server";

  private static final Map<String, ConfigKey> KEYS = new LinkedHashMap<>();

  static {
    key(INPUT_PATH, Type.STRING, null, "Input rows: a JSONL file or folder, a Parquet path or a Delta table.", nonBlank());
    key(INPUT_FORMAT, Type.STRING, null, "jsonl | parquet | delta | openai-batch (OpenAI Batch chat-completions request lines; set explicitly) (default: from the path).", oneOf(INPUT_FORMATS));
    key(INPUT_ID_COLUMN, Type.STRING, "id", "Column holding each row's stable id.", nonBlank());
    key(MODEL_ID, Type.STRING, null, "A catalog entry in conf/models/ (see `jgen models`): template, defaults, serving hints.", nonBlank());
    key(MODEL_PATH, Type.STRING, null, "Weights: a model directory (GGUF + tokenizer files) or a GGUF file; its tokenizer_config.json template wins over the catalog.", nonBlank());
    key(ENGINE_KIND, Type.STRING, "llamacpp", "llamacpp (CPU) | djl-serving (DJL Serving LMI) | trtllm-serve (TensorRT-LLM's own server) | none (render and tokenize only) | echo (a zero-cost engine, for benchmarks).", oneOf(ENGINE_KINDS));
    // --- nativecpu: llama.cpp defaults chosen from the machine (docs/nativecpu.md has the measurements) ---
    key(ENGINE_THREADS, Type.INT, 0, "llama.cpp threads per executor (0: every core of the executor with the native build; "
        + "the embedded jar fallback keeps one free).", atLeast(0));
    key(ENGINE_PARALLEL, Type.INT, 0, "llama.cpp sequences decoded together (0: 8 per core, 4 to 16, halved for models over "
        + "8 GB; the embedded jar fallback: 2).", atLeast(0));
    key(ENGINE_CTX_SIZE, Type.INT, 0, "KV cache tokens (0: the model's context length, at most 4096, for each row; the native "
        + "build's shared cache then grows to hold every sequence's row of max_new_tokens + 256 prompt tokens, within a quarter of "
        + "the machine's memory). The native build shares one cache among the sequences (a row takes prompt + max_new_tokens of "
        + "it); the jar gives each sequence this many.",
        atLeast(0));
    // --- end nativecpu ---
    key(ENGINE_PREFIX_CACHE, Type.BOOLEAN, true, "llama.cpp (native build): keep finished sequences' KV cells and start a "
        + "row from the longest prompt prefix already in the cache instead of decoding it again (greedy outputs are the "
        + "same; each row's cached_tokens says how many it reused). false: every prompt decoded from its first token.",
        null);
    key(ENGINE_GROUP_BY_ADAPTER, Type.BOOLEAN, true, "With model.adapters: job.kind=generate orders the pending rows adapter by "
        + "adapter (in order of each adapter's first row; input order within), so an engine's decode steps hold one adapter "
        + "(llama.cpp decodes each adapter set apart) and a task's rows reach few adapters. false: input order (prefix groups "
        + "aside, which then ignore the adapter).", null);
    key(ENGINE_REQUEST_TIMEOUT_S, Type.INT, 0, "Seconds one row's request may take in any engine, queueing included; one not "
        + "answered in time is cancelled and counts as a run error (0: 300 s plus 2 s per max_new_tokens of the row).",
        atLeast(0));
    key(DJL_MODE, Type.STRING, "endpoint", "endpoint: servers at engine.djl.endpoints | launch: each executor starts its own.",
        oneOf(List.of("endpoint", "launch")));
    key(DJL_ENDPOINTS, Type.STRING_LIST, List.of(), "Server URLs (endpoint mode): one shared, or one per GPU address in order.", null);
    key(DJL_API, Type.STRING, "invocations", "invocations: DJL's /invocations | openai: /v1/completions (vLLM LMI, trtllm-serve).",
        oneOf(List.of("invocations", "openai")));
    key(DJL_COMMAND, Type.STRING, "djl-serving", "The server command (launch mode).", nonBlank());
    key(DJL_MODEL_ID, Type.STRING, null, "option.model_id for serving.properties (default: model.path, else the catalog's Hugging Face id).", nonBlank());
    key(DJL_WINDOW, Type.INT, 0, "Requests in flight per server (0: max_rolling_batch_size plus a quarter, queued at the server).", atLeast(0));
    key(DJL_MAX_ROLLING_BATCH_SIZE, Type.INT, 64, "option.max_rolling_batch_size: sequences the server batches together.", greaterThan(0));
    key(DJL_MAX_NUM_TOKENS, Type.INT, 0, "option.max_num_tokens (0: not set).", atLeast(0));
    key(DJL_MAX_INPUT_LEN, Type.INT, 0, "option.max_input_len (0: the model's context minus max_new_tokens).", atLeast(0));
    key(DJL_MAX_OUTPUT_LEN, Type.INT, 0, "option.max_output_len (0: generation.max_new_tokens).", atLeast(0));
    key(DJL_TENSOR_PARALLEL_DEGREE, Type.INT, 0, "option.tensor_parallel_degree (0: the catalog's GPU hint).", atLeast(0));
    key(DJL_DTYPE, Type.STRING, null, "option.dtype (default: the catalog's GPU hint).", nonBlank());
    key(DJL_QUANTIZE, Type.STRING, null, "option.quantize: fp8 | awq | smoothquant (default: the catalog's GPU hint).", nonBlank());
    key(DJL_JOB_QUEUE_SIZE, Type.INT, 1000, "job_queue_size of each server.", greaterThan(0));
    key(DJL_PREFIX_CACHING, Type.BOOLEAN, true, "option.enable_prefix_caching (launch mode): the vLLM engine's automatic "
        + "prefix caching, KV blocks of shared prompt prefixes reused across requests.", null);
    key(DJL_REQUEST_TIMEOUT_S, Type.INT, 300, "Client timeout per request, above the server's predict timeout (240 s).", greaterThan(0));
    key(DJL_READY_TIMEOUT_S, Type.INT, 1800, "How long a launched server may take to load (70B TRT-LLM compiles for minutes).", greaterThan(0));
    key(DJL_RETRIES, Type.INT, 5, "Retries per request on 503, 5xx, timeouts and refused connections.", atLeast(0));
    key(DJL_GPUS_PER_SERVER, Type.INT, 0, "GPUs per server in launch mode (0: tensor_parallel_degree).", atLeast(0));
    key(DJL_BASE_PORT, Type.INT, 8080, "First loopback port of launched servers (one port per server).", greaterThan(0));
    // ---- serving branch: engine.trtllm.* (trtllm-serve) ----
    key(TRTLLM_MODE, Type.STRING, "endpoint", "endpoint: servers at engine.trtllm.endpoints | launch: each executor starts one trtllm-serve per GPU group.",
        oneOf(List.of("endpoint", "launch")));
    key(TRTLLM_ENDPOINTS, Type.STRING_LIST, List.of(), "trtllm-serve URLs (endpoint mode): one shared, or one per GPU address in order.", null);
    key(TRTLLM_COMMAND, Type.STRING, "trtllm-serve", "The server command (launch mode).", nonBlank());
    key(TRTLLM_MODEL_ID, Type.STRING, null, "trtllm-serve's MODEL argument (default: model.path, else the catalog's Hugging Face id).", nonBlank());
    key(TRTLLM_BACKEND, Type.STRING, "pytorch", "--backend: pytorch (the default since TensorRT-LLM 1.0) | tensorrt.",
        oneOf(List.of("pytorch", "tensorrt")));
    key(TRTLLM_GPU, Type.STRING, null, "The GPU kind whose catalog preset fills tp_size, max_batch_size and precision: h100-80gb | h200-141gb (see `jgen models --gpu`).",
        oneOf(List.of("h100-80gb", "h200-141gb")));
    key(TRTLLM_PRECISION, Type.STRING, null, "The checkpoint's precision for the preset: bf16 | fp8 | int4 (default: the preset's suggestion). fp8 also sets an FP8 KV cache.",
        oneOf(List.of("bf16", "fp8", "int4")));
    key(TRTLLM_TP_SIZE, Type.INT, 0, "--tp_size (0: the preset's, else the catalog's tensor_parallel_degree).", atLeast(0));
    key(TRTLLM_GPUS_PER_SERVER, Type.INT, 0, "GPUs per server in launch mode (0: tp_size).", atLeast(0));
    key(TRTLLM_MAX_BATCH_SIZE, Type.INT, 0, "--max_batch_size (0: the preset's batch, else 64).", atLeast(0));
    key(TRTLLM_MAX_NUM_TOKENS, Type.INT, 8192, "--max_num_tokens: batched tokens per iteration.", greaterThan(0));
    key(TRTLLM_MAX_SEQ_LEN, Type.INT, 0, "--max_seq_len (0: the job's context).", atLeast(0));
    key(TRTLLM_KV_FRACTION, Type.DOUBLE, 0.9, "--kv_cache_free_gpu_memory_fraction and kv_cache_config.free_gpu_memory_fraction; also the share of GPU memory presets plan for.",
        v -> ((Number) v).doubleValue() > 0 && ((Number) v).doubleValue() <= 1 ? null : "must be in (0, 1]");
    key(TRTLLM_BLOCK_REUSE, Type.BOOLEAN, true, "kv_cache_config.enable_block_reuse: reuse KV blocks of shared prompt prefixes (prefix caching).", null);
    key(TRTLLM_KV_DTYPE, Type.STRING, null, "kv_cache_config.dtype: auto | fp8 (default: fp8 with precision fp8, else auto).", oneOf(List.of("auto", "fp8")));
    key(TRTLLM_EXTRA_OPTIONS, Type.STRING, null, "A YAML file merged over the extra_llm_api_options jgen writes per server.", nonBlank());
    key(TRTLLM_WINDOW, Type.INT, 0, "Requests in flight per server (0: max_batch_size plus a quarter, queued at the server).", atLeast(0));
    key(TRTLLM_REQUEST_TIMEOUT_S, Type.INT, 300, "Client timeout per request.", greaterThan(0));
    key(TRTLLM_READY_TIMEOUT_S, Type.INT, 1800, "How long a launched trtllm-serve may take to load.", greaterThan(0));
    key(TRTLLM_RETRIES, Type.INT, 5, "Retries per request on 503, 5xx, timeouts and refused connections.", atLeast(0));
    key(TRTLLM_BASE_PORT, Type.INT, 8000, "First loopback port of launched servers (one port per server).", greaterThan(0));
    key(MAX_NEW_TOKENS, Type.INT, 256, "Generated tokens at most, per row.", greaterThan(0));
    key(TEMPERATURE, Type.DOUBLE, null, "Sampling temperature, >= 0 (0 = greedy). Default: the model card's.", atLeastD(0));
    key(TOP_P, Type.DOUBLE, null, "Nucleus sampling, in (0, 1]. Default: the model card's, else 1.", unitInterval());
    key(TOP_K, Type.INT, null, "Top-k sampling, >= 0 (0 = off). Default: the model card's, else 0.", atLeast(0));
    key(REPETITION_PENALTY, Type.DOUBLE, null, "Repetition penalty, > 0 (1 = off). Default: the model card's, else 1.", positive());
    key(SEED, Type.LONG, 0L, "Base seed; each row's seed is derived from it, the id and the sample index.", null);
    key(STOP, Type.STRING_LIST, List.of(), "Stop strings.", null);
    key(N, Type.INT, 1, "Samples per prompt.", greaterThan(0));
    key(OUTPUT_PATH, Type.STRING, null, "The output Delta table.", nonBlank());
    key(RUN_ID, Type.STRING, null, "Run id (default: derived from input, model, template and parameters).", nonBlank());
    key(RUN_MODE, Type.STRING, "resume", "resume: continue the run (only missing rows are generated) | new: replace the run's rows.",
        oneOf(List.of("resume", "new")));
    key(RUNS_PATH, Type.STRING, null, "The runs table (default: <output.path>_runs).", nonBlank());
    key(OPTIMIZE, Type.BOOLEAN, false, "OPTIMIZE the run's partition of the output table at the end.", null);
    key(JOB_KIND, Type.STRING, "generate", "generate | mtbench (multi-turn answers, FastChat format) | selfchat (synthetic dialogues) | judge (MT-Bench single-answer grading by a local judge model) | magpie (instructions the model writes from its own template, then answers) | score (a local judge model rates a generations table with a rubric) | curate (filter and deduplicate a generations table, no model).",
        oneOf(List.of("generate", "mtbench", "selfchat", "judge", "magpie", "score", "curate")));
    key(INPUT_DEDUP, Type.BOOLEAN, false, "Generate identical instructions (NFKC, whitespace folded) once; mark the others duplicate_of.", null);
    key(ATTRIBUTES_SWEEP, Type.MAP, Map.of(), "SteerLM attribute values to cross, e.g. {verbosity: [0, 2, 4], humor: [0, 4]}.", null);
    key(MTBENCH_TEMPERATURES, Type.MAP, Map.of(), "Per-category temperature overrides of FastChat's defaults, e.g. {writing: 0.7}.", null);
    key(JUDGE_MODEL_ID, Type.STRING, null, "job.kind=judge: the judge, a catalog entry (its own chat template renders the judge prompts).", nonBlank());
    key(JUDGE_MODEL_PATH, Type.STRING, null, "job.kind=judge: the judge's weights (as model.path).", nonBlank());
    key(JUDGE_QUESTIONS, Type.STRING, null, "job.kind=judge: FastChat question.jsonl (question_id, category, turns) the answers at input.path answer.", nonBlank());
    key(JUDGE_REFERENCES, Type.STRING, null, "job.kind=judge: reference answers, FastChat model_answer JSONL (choices[0].turns), for judge.ref_categories.", nonBlank());
    key(JUDGE_PROMPTS, Type.STRING, null, "job.kind=judge: judge prompts in FastChat's judge_prompts.jsonl format (default: conf/judge/judge_prompts_<judge.language>.jsonl).", nonBlank());
    key(JUDGE_LANGUAGE, Type.STRING, "ja", "job.kind=judge: ja | en, the default judge prompts jgen ships (when judge.prompts is unset).", oneOf(List.of("ja", "en")));
    key(JUDGE_REF_CATEGORIES, Type.STRING_LIST, FASTCHAT_REF_CATEGORIES, "job.kind=judge: categories graded against a reference answer (FastChat's NEED_REF_CATS).", null);
    key(JUDGE_NAME, Type.STRING, null, "job.kind=judge: the judge's name in judgments and exports (default: the judge model's id).", nonBlank());
    key(JUDGE_CONSTRAIN_RATING, Type.INT, 0, "job.kind=judge, engine.kind=llamacpp: N > 0 constrains the judge (a GBNF grammar) to at most N "
        + "characters of explanation, then \"[[1]]\" to \"[[10]]\", so every judgment holds a rating (0: off, as FastChat).", atLeast(0));
    key(SCORE_MODEL_ID, Type.STRING, null, "job.kind=score: the judge, a catalog entry (its own chat template renders the rubric).", nonBlank());
    key(SCORE_MODEL_PATH, Type.STRING, null, "job.kind=score: the judge's weights (as model.path).", nonBlank());
    key(SCORE_RUBRIC, Type.STRING, null, "job.kind=score: the rubric, a text file with a str.format prompt template: {instruction}, {response}, "
        + "optional {system} and SteerLM attributes (default: conf/score/helpfulness_ja.txt).", nonBlank());
    key(SCORE_JSON, Type.BOOLEAN, false, "job.kind=score: the judge answers {\"score\": int, \"reason\": str} as structured output "
        + "instead of a rating in [[x]].", null);
    key(SCORE_CONSTRAIN_RATING, Type.INT, 0, "job.kind=score, engine.kind=llamacpp: N > 0 constrains the judge (a GBNF grammar) to at "
        + "most N characters of reason, then \"[[1]]\" to \"[[10]]\" (0: off).", atLeast(0));
    key(SELFCHAT_TURNS, Type.INT, 2, "Rounds of (assistant answer, simulated user follow-up) in self-chat.", greaterThan(0));
    key(SELFCHAT_USER_PROMPT, Type.STRING, null, "The user-simulator instruction for self-chat follow-ups (default: a built-in Japanese one).", nonBlank());
    key(CURATE_GENERATIONS, Type.STRING, null, "job.kind=curate: the generations table (job.kind=generate) whose candidates are curated.", nonBlank());
    key(CURATE_SCORES, Type.STRING, null, "job.kind=curate: a scores table (source run_id, row_key or id, sample_index, score) of the same generations.", nonBlank());
    key(CURATE_INPUT, Type.STRING, null, "job.kind=curate: the generate run's input rows (JSONL, Parquet or Delta): each candidate's conversation comes from the row of its id (prompt/messages/system), not the rendered prompt.", nonBlank());
    key(CURATE_MIN_SCORE, Type.DOUBLE, null, "job.kind=curate: drop candidates scored below this (below_min_score; an unscored one too). Needs curate.scores.", null);
    key(CURATE_BEST_OF_N, Type.BOOLEAN, false, "job.kind=curate: keep only the highest-scored sample of each id (ties: lowest sample_index). Needs curate.scores.", null);
    key(CURATE_NEAR_DUP_THRESHOLD, Type.DOUBLE, 0.8, "job.kind=curate: Jaccard similarity of instructions' character n-grams at which the later id is a near duplicate (1: off).", unitInterval());
    key(CURATE_NGRAM, Type.INT, 3, "job.kind=curate: characters per n-gram (shingle) of the near-duplicate check.", greaterThan(0));
    key(CURATE_LSH_BANDS, Type.INT, 10, "job.kind=curate: LSH bands; ids agreeing on every min-hash of a band are compared (more: fewer near duplicates missed).", greaterThan(0));
    key(CURATE_LSH_ROWS, Type.INT, 5, "job.kind=curate: min-hashes per LSH band (more: fewer dissimilar pairs compared). A pair of similarity J is compared with probability 1-(1-J^rows)^bands.", greaterThan(0));
    key(CURATE_DPO_MIN_MARGIN, Type.DOUBLE, 1.0, "job.kind=curate: default of `jgen export dpo --min-margin`: chosen must outscore rejected by at least this.", atLeastD(0));
    key(CHUNK_ROWS, Type.INT, 0, "Rows per committed chunk at most (0: 64 x the engine's batch over all servers, at least 512).", atLeast(0));
    key(COMMIT_INTERVAL_S, Type.INT, 60, "A commit at least this often: a chunk starts no new row after it (rows left go to the next "
        + "chunk), unless a task has at most one in-flight window of rows left (twice the engine's capacity), which it finishes.",
        greaterThan(0));
    key(CHUNKS_IN_FLIGHT, Type.INT, 2, "Chunks generated at once: the next one keeps the engine full while one drains and commits.",
        greaterThan(0));
    key(LONGEST_FIRST, Type.BOOLEAN, true, "job.kind=generate: each task reads up to one in-flight window of rows ahead and starts "
        + "those with the largest max_new_tokens first, so the end of the input drains short rows (same budget everywhere: input order); "
        + "false: input order.", null);
    key(PARTITIONS, Type.INT, 0, "Spark tasks per chunk (0: (Spark's default parallelism - 1) / job.chunks_in_flight, at least 1: one slot stays free for Delta's own jobs).", atLeast(0));
    key(MAX_FAILURE_RATE, Type.DOUBLE, 0.5, "Stop the run (exit code 3) when this share of the last job.failure_window rows failed "
        + "for engine or internal reasons; row errors never count.", unitInterval());
    key(FAILURE_WINDOW, Type.INT, 64, "Rows over which job.max_failure_rate is judged (per executor).", greaterThan(0));
    key(MAX_COMPLETION_TOKENS_TOTAL, Type.LONG, null, "Completion tokens one attempt may generate (unset: no limit). When reached the "
        + "attempt starts no new row, lets rows in flight finish within job.stop_grace_s, commits what finished and exits 0 "
        + "with stopped_by=budget; the same command continues the run with a fresh budget.", greaterThan(0));
    key(MAX_PROMPT_TOKENS_TOTAL, Type.LONG, null, "Prompt tokens one attempt may process (unset: no limit); as "
        + "job.max_completion_tokens_total.", greaterThan(0));
    key(DEADLINE, Type.STRING, null, "When the attempt stops starting rows: a duration from its start (90m, 2h, 45s, 1h30m) or an "
        + "ISO-8601 instant (2026-12-07T06:00:00Z); then as job.max_completion_tokens_total, with stopped_by=deadline.",
        v -> dev.jgen.config.Deadlines.problem((String) v));
    key(STOP_GRACE_S, Type.INT, 60, "Seconds rows in flight may take to finish once a budget or deadline stops the attempt; "
        + "rows still running then are cancelled and never written (the next attempt generates them).", atLeast(0));
    key(MODEL_ADAPTERS, Type.MAP, Map.of(), "LoRA adapters rows may pick (column adapter, optional adapter_scale): a name to a path, or "
        + "to {path: ..., scale: ...} (default scale 1). A GGUF LoRA file for engine.kind=llamacpp, a PEFT directory for the GPU "
        + "servers. Each row records the adapter's name, fingerprint and scale.", null);
    key(GENERATION_ADAPTER, Type.STRING, null, "The adapter of rows without an adapter column value (a name in model.adapters; unset: "
        + "the base model).", null);
    key(REUSE, Type.BOOLEAN, true, "job.kind=generate: copy into this run, instead of generating, the ok rows of earlier runs in the "
        + "same output table whose request is identical (model fingerprint, engine kind, rendered prompt, every sampling parameter "
        + "with seed and max_new_tokens, stop, constraint, sample index); such rows carry reused_from and count as reused.", null);
    key(PREFIX_GROUP_TOKENS, Type.INT, 64, "Rows whose rendered prompts share their first N tokens (a system prompt, few-shot "
        + "examples, a rubric) form a prefix group: job.kind=generate orders the pending rows group by group (in input order "
        + "within and between groups) and gives each task a contiguous range, so a group meets one engine's prefix cache; "
        + "GPU servers route a group's requests to one server while its load allows. 0: input order, routing by load alone.", atLeast(0));
    key(SPECIAL_TOKENS_IN_CONTENT, Type.STRING, "reject", "reject | escape | allow: the model's special-token text inside content.",
        oneOf(List.of("reject", "escape", "allow")));
    key(ATTRIBUTES_APPLY_TO, Type.STRING, "last_user", "last_user | all_user: where attribute columns go.",
        oneOf(List.of("last_user", "all_user")));
    key(SPARK_MASTER, Type.STRING, null, "Spark master (default local[*] when not under spark-submit).", nonBlank());
    key(SPARK_APP_NAME, Type.STRING, "jgen", "Spark application name.", nonBlank());
    key(SPARK_CONF, Type.MAP, Map.of(), "Extra Spark settings, e.g. {spark.sql.shuffle.partitions: 8}.", null);
    // Structured output (issue 13)
    key(JSON_SCHEMA, Type.JSON, null, "A JSON Schema every output must match: inline (YAML mapping or JSON text) or @path/to/schema.json.", null);
    key(GRAMMAR, Type.STRING, null, "A GBNF grammar every output must follow (engine.kind=llamacpp only).", null);
    key(CHOICE, Type.STRING_LIST, null, "The allowed outputs: each output must be exactly one of these strings.", null);
    key(DJL_SERVER, Type.STRING, "lmi-trtllm", "The software behind engine.djl endpoints, for the constraint field it reads: "
        + "lmi-trtllm | lmi-vllm | vllm | trtllm-serve.", oneOf(dev.jgen.structured.ServerEncodings.SERVERS));
  }

  private ConfigKeys() {}

  public static Map<String, ConfigKey> all() {
    return Collections.unmodifiableMap(KEYS);
  }

  public static ConfigKey get(String name) {
    return KEYS.get(name);
  }

  private static void key(String name, Type type, Object dflt, String doc, Function<Object, String> check) {
    KEYS.put(name, new ConfigKey(name, type, dflt, doc, check));
  }

  static Function<Object, String> oneOf(List<String> allowed) {
    return v -> allowed.contains(v) ? null : "must be one of " + String.join(" | ", allowed);
  }

  private static Function<Object, String> nonBlank() {
    return v -> v.toString().isBlank() ? "must not be empty" : null;
  }

  private static Function<Object, String> atLeast(int min) {
    return v -> ((Number) v).longValue() >= min ? null : "must be >= " + min;
  }

  private static Function<Object, String> greaterThan(int min) {
    return v -> ((Number) v).longValue() > min ? null : "must be > " + min;
  }

  private static Function<Object, String> atLeastD(double min) {
    return v -> ((Number) v).doubleValue() >= min ? null : "must be >= " + min;
  }

  private static Function<Object, String> positive() {
    return v -> ((Number) v).doubleValue() > 0 ? null : "must be > 0";
  }

  private static Function<Object, String> unitInterval() {
    return v -> {
      double d = ((Number) v).doubleValue();
      return d > 0 && d <= 1 ? null : "must be in (0, 1]";
    };
  }

  /** Names close to a misspelt key, for the error message. */
  static List<String> suggestions(String unknown) {
    String tail = unknown.contains(".") ? unknown.substring(unknown.lastIndexOf('.') + 1) : unknown;
    return Arrays.stream(KEYS.keySet().toArray(String[]::new))
        .filter(k -> k.endsWith("." + tail) || k.startsWith(unknown.split("\\.")[0] + "."))
        .limit(8)
        .toList();
  }
}
