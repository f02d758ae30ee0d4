// jgen-llama-server: jgen's thin layer over llama.h for CPU generation, one process per executor.
//
// Why a process and not JNI/FFM: a crash or abort inside llama.cpp kills this process, not the Spark executor; no
// native code is loaded into the JVM (no clash with java-llama.cpp's library, no --enable-native-access); and the
// measured cost of the pipe is one short line per finished request, not per token (see docs/nativecpu.md).
//
// Protocol: one request or reply per line on stdin/stdout, fields separated by single spaces, strings hex-encoded
// (UTF-8 bytes) so stop strings and text may hold spaces and newlines.
//   in:  G <id> <max_new> <temperature> <top_p> <top_k> <repeat_penalty> <seed> <n_stop> <hex stop>... <n_prompt> <id>...
//          [<constraint> [<adapter>]]  constraint: "-" none, "g<hex>" a GBNF grammar (root rule), "j<hex>" a JSON schema
//                                   that llama.cpp's json_schema_to_grammar converts here, once per schema text;
//                                   adapter: "-" the base model, "<index>:<scale>" the index-th --lora adapter (0-based)
//                                   at that scale (a scale of 0 is the base model, as in llama.cpp)
//        C <id>                       cancel (a queued or running request; its reply is "X <id>")
//   out: READY <key=value>...         once, after the model loaded
//        D <id> <prompt_tokens> <completion_tokens> <stop|length> <hex text> <token ids comma-joined or -> <cached_tokens>
//                                     cached_tokens: the prompt tokens whose KV cells came from the prefix cache
//                                     (copied from another sequence, not decoded); 0 with --prefix-cache 0
//        E <id> <hex message>         the request failed for what it holds (a row error: bad hex, numbers or counts out of
//                                     range, token ids outside the vocabulary, a prompt longer than the KV cache, a grammar
//                                     or JSON schema llama.cpp rejects, a grammar that fails while sampling); the server
//                                     goes on, and no other request is affected. "E ? ..." answers a line whose id could
//                                     not be read (the client broke the protocol).
//        F <id> <hex message>         the request failed for the engine's reason (llama_decode failed, an unexpected
//                                     exception in a step): a run error; the server goes on
//        X <id>                       the request was cancelled
// Every request whose id can be read gets exactly one D, E, F or X reply: exceptions are caught per request (parsing,
// admission) and per sequence (sampling, on the pool's threads too), and a request's token ids are checked against the
// vocabulary before they join a batch, so one row's bad input never fails another row of the same decode step.
// EOF on stdin ends the process at once, running requests included. Anything llama.cpp prints goes to stderr; stdout carries only the protocol.
//
// The loop is llama.cpp's continuous batching (as in its examples/batched and tools/server): every step decodes one
// llama_batch holding the next token of every running sequence plus a chunk of prompt tokens of newly admitted ones;
// each sequence has its own llama_sampler chain, and the sequences of a step are sampled together on the compute threads
// (SamplerPool), which would otherwise sleep while one thread samples them in turn. The KV cache is unified (one pool of cells shared by all sequences),
// so it is sized to what the rows need, not the model's context per slot: a request is admitted when
// prompt + max_new_tokens cells are free, and one that can never fit is an error naming both numbers.
//
// Prefix cache (--prefix-cache 1, the default; engine.prefix_cache): finished sequences keep their cells, and a new
// request copies the cells of the longest prefix of its prompt that any sequence in the cache holds (as llama.cpp's
// server does per slot with cache_prompt, here across the unified cache), decoding only the rest. Cached sequences
// need sequence ids beyond the running ones (--cache-seqs, n_seq_max = parallel + that) and cells: both are taken
// back from the least recently used cached sequence when a new request needs them (a prefix lent to a request counts
// as a use, so a hot prefix stays). A request counts only the cells it may create (prompt less the copied prefix,
// plus max_new_tokens) against the cache; a shared cell is one cell.
//
// LoRA adapters (--lora PATH, repeated; issue 31): every adapter is loaded once at start, and each request names its
// adapter and scale. llama.cpp applies adapters per context, not per sequence, so a decode step holds only sequences
// of one adapter set (as llama.cpp's server does): a step decodes each adapter set among the running sequences in
// turn, switching the context's adapters between them. Rows of one adapter arriving together (jgen orders a run's
// rows by adapter, engine.group_by_adapter) keep each step one full batch. Cached prefixes are matched only within the
// same adapter and scale: the cells hold keys and values computed through the adapter.

#include "llama.h"
#include "json-schema-to-grammar.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cerrno>
#include <cmath>
#include <climits>
#include <deque>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <unistd.h>
#include <vector>

namespace {

FILE * g_out = nullptr;  // the protocol channel (the original stdout)

std::string to_hex(const std::string & s) {
  static const char * digits = "0123456789abcdef";
  std::string r;
  r.reserve(s.size() * 2);
  for (unsigned char c : s) {
    r.push_back(digits[c >> 4]);
    r.push_back(digits[c & 15]);
  }
  return r.empty() ? "-" : r;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict: an odd length or a character that is not a hex digit is an error (std::stoi threw here, and an uncaught
// exception ended the process and every request in it).
bool from_hex(const std::string & h, std::string & out) {
  out.clear();
  if (h == "-") return true;
  if (h.empty() || h.size() % 2 != 0) return false;
  out.reserve(h.size() / 2);
  for (size_t i = 0; i < h.size(); i += 2) {
    int a = hex_digit(h[i]), b = hex_digit(h[i + 1]);
    if (a < 0 || b < 0) return false;
    out.push_back((char) (a * 16 + b));
  }
  return true;
}

// Whole-field number parsing: no sign tricks (an unsigned stream read takes "-5" as a huge number), no trailing bytes.
bool parse_ll(const std::string & f, long long & v) {
  if (f.empty()) return false;
  errno = 0;
  char * end = nullptr;
  v = std::strtoll(f.c_str(), &end, 10);
  return errno == 0 && end == f.c_str() + f.size();
}

bool parse_float(const std::string & f, float & v) {
  if (f.empty()) return false;
  errno = 0;
  char * end = nullptr;
  v = std::strtof(f.c_str(), &end);
  return errno == 0 && end == f.c_str() + f.size() && std::isfinite(v);
}

void reply(const std::string & line) {
  fputs(line.c_str(), g_out);
  fputc('\n', g_out);
}

struct Request {
  std::string id;
  int max_new = 0;
  float temperature = 0, top_p = 1;
  int top_k = 0;
  float repeat_penalty = 1;
  uint32_t seed = 0;
  std::vector<std::string> stop;
  std::vector<llama_token> prompt;
  std::string grammar;        // GBNF with a root rule (structured output), empty for none
  std::string json_schema;    // a JSON schema to convert to `grammar` before admission, empty for none
  int adapter = -1;           // the --lora adapter's index, -1 for the base model
  float adapter_scale = 0;
};

// The adapter set a sequence is decoded with: -1 (the base model) or an adapter's index, and its scale.
struct AdapterKey {
  int index = -1;
  float scale = 0;
  bool operator==(const AdapterKey & o) const { return index == o.index && scale == o.scale; }
};

AdapterKey adapter_key(const Request & r) {
  // Scale 0 is the base model (llama.cpp leaves a zero-scale adapter out): one key, so both share cached prefixes.
  if (r.adapter < 0 || r.adapter_scale == 0.0f) return AdapterKey{};
  return AdapterKey{ r.adapter, r.adapter_scale };
}

struct Slot {
  bool busy = false;
  Request req;
  llama_sampler * smpl = nullptr;
  size_t n_fed = 0;           // prompt tokens already decoded
  llama_pos pos = 0;          // next position
  llama_token next = -1;      // sampled token to feed in the next step
  int batch_idx = -1;         // index of this slot's logits in the current batch
  bool argmax = false;        // greedy without grammar or penalty: the logits' arg-max, no candidate array
  const float * logits = nullptr;           // this step's logits (read on the main thread, sampled on any)
  std::vector<llama_token_data> candidates;  // reused every step: one entry per vocabulary token
  llama_token sampled = -1;
  std::string sample_error;   // set when this step's sampling threw (a grammar that fails mid-generation): a row error
  std::vector<llama_token> out;
  std::string text;
  size_t reserved = 0;        // KV cells this request may create (its prompt less the reused prefix, plus max_new)
  llama_seq_id seq = -1;      // its sequence in the KV cache (not the slot's index: finished sequences stay cached)
  size_t reused = 0;          // prompt tokens whose cells were copied from a cached sequence instead of decoded
  AdapterKey adapter;         // the request's adapter set
};

// The prefix cache's bookkeeping. llama.cpp's unified KV cache lets one cell belong to several sequences
// (llama_memory_seq_cp only adds the destination's id to the source's cells), and a cell is freed when the last
// sequence holding it is removed. llama.h does not say how many cells are in use, so jgen mirrors it: every cell a
// sequence holds gets a logical id, copied cells share the id, and a cell is live while some sequence refers to it.
// Exact, and cheap next to a decode step (a few thousand ids).
class CellBook {
 public:
  uint64_t fresh() {
    refs_[next_] = 1;
    return next_++;
  }
  void ref(uint64_t c) { refs_[c]++; }
  void unref(uint64_t c) {
    auto it = refs_.find(c);
    if (it != refs_.end() && --it->second == 0) refs_.erase(it);
  }
  int refs(uint64_t c) const {
    auto it = refs_.find(c);
    return it == refs_.end() ? 0 : it->second;
  }
  size_t used() const { return refs_.size(); }

 private:
  std::unordered_map<uint64_t, int> refs_;
  uint64_t next_ = 1;
};

// One sequence id of the KV cache: free, decoding for a slot, or a finished sequence kept as a prefix cache.
struct SeqState {
  bool in_use = false;
  int slot = -1;                  // the slot decoding it; -1 for a cached (finished) sequence
  std::vector<llama_token> toks;  // the tokens decoded into its cells, by position
  std::vector<uint64_t> cells;    // their logical cell ids (CellBook)
  uint64_t last_use = 0;          // when it finished or last lent its prefix: eviction takes the oldest first
  AdapterKey adapter;             // what its cells were computed with: a prefix is lent only within the same key
};

size_t common_prefix(const std::vector<llama_token> & a, const std::vector<llama_token> & b) {
  size_t n = std::min(a.size(), b.size()), i = 0;
  while (i < n && a[i] == b[i]) i++;
  return i;
}

std::mutex g_mu;
std::condition_variable g_cv;
std::deque<std::string> g_inbox;
bool g_eof = false;

void reader() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::lock_guard<std::mutex> lk(g_mu);
    g_inbox.push_back(line);
    g_cv.notify_one();
  }
  std::lock_guard<std::mutex> lk(g_mu);
  g_eof = true;
  g_cv.notify_one();
}

// What a request may hold, checked before it is queued: a request that passes never fails for its numbers or ids.
struct Limits {
  int n_vocab;
  size_t n_ctx;
  int n_adapters;
};

// Parses "G ..." into r. On failure err says why; r.id is set as soon as the id could be read (so the reply names it).
bool parse_generate(const std::string & line, const Limits & lim, Request & r, std::string & err) {
  std::vector<std::string> f;
  {
    size_t at = 0;
    while (at <= line.size()) {
      size_t sp = line.find(' ', at);
      if (sp == std::string::npos) sp = line.size();
      f.push_back(line.substr(at, sp - at));
      at = sp + 1;
    }
  }
  if (f.size() < 2 || f[1].empty()) { err = "malformed request: no id"; return false; }
  r.id = f[1];
  size_t k = 2;
  auto field = [&](const char * what, std::string & out) {
    if (k >= f.size()) { err = std::string("malformed request: ") + what + " missing"; return false; }
    out = f[k++];
    return true;
  };
  auto integer = [&](const char * what, long long lo, long long hi, long long & v) {
    std::string t;
    if (!field(what, t)) return false;
    if (!parse_ll(t, v)) { err = std::string("malformed request: ") + what + " '" + t.substr(0, 32) + "' is not an integer"; return false; }
    if (v < lo || v > hi) {
      err = std::string(what) + " " + std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
      return false;
    }
    return true;
  };
  auto real = [&](const char * what, float & v) {
    std::string t;
    if (!field(what, t)) return false;
    if (!parse_float(t, v)) { err = std::string("malformed request: ") + what + " '" + t.substr(0, 32) + "' is not a finite number"; return false; }
    return true;
  };
  long long v;
  if (!integer("max_new_tokens", 1, (long long) lim.n_ctx, v)) {
    if (err.rfind("max_new_tokens", 0) == 0) err += " (the engine's KV cache holds " + std::to_string(lim.n_ctx) + " tokens, engine.ctx_size)";
    return false;
  }
  r.max_new = (int) v;
  if (!real("temperature", r.temperature)) return false;
  if (r.temperature < 0) { err = "temperature " + std::to_string(r.temperature) + " is negative"; return false; }
  if (!real("top_p", r.top_p)) return false;
  if (!(r.top_p > 0 && r.top_p <= 1)) { err = "top_p " + std::to_string(r.top_p) + " is not in (0, 1]"; return false; }
  if (!integer("top_k", 0, INT32_MAX, v)) return false;
  r.top_k = (int) v;
  if (!real("repeat_penalty", r.repeat_penalty)) return false;
  if (!(r.repeat_penalty > 0)) { err = "repeat_penalty " + std::to_string(r.repeat_penalty) + " is not positive"; return false; }
  if (!integer("seed", 0, UINT32_MAX, v)) return false;
  r.seed = (uint32_t) v;
  long long n_stop;
  const long long fields_left = std::max(0LL, (long long) f.size() - (long long) k - 1);  // after the count itself
  if (!integer("stop string count", 0, fields_left, n_stop)) return false;
  for (long long i = 0; i < n_stop; i++) {
    std::string h, text;
    if (!field("stop string", h)) return false;
    if (!from_hex(h, text)) { err = "stop string " + std::to_string(i) + " is not hex-encoded: '" + h.substr(0, 32) + "'"; return false; }
    r.stop.push_back(text);
  }
  long long n_prompt;
  {
    std::string t;
    if (!field("prompt token count", t)) return false;
    if (!parse_ll(t, n_prompt) || n_prompt < 0) { err = "malformed request: prompt token count '" + t.substr(0, 32) + "'"; return false; }
  }
  if (n_prompt == 0) { err = "empty prompt"; return false; }
  if ((size_t) n_prompt > lim.n_ctx) {
    err = "the prompt is " + std::to_string(n_prompt) + " tokens, longer than the engine's KV cache of " + std::to_string(lim.n_ctx)
        + " tokens (engine.ctx_size)";
    return false;
  }
  if (f.size() - k < (size_t) n_prompt) {
    err = "malformed request: " + std::to_string(n_prompt) + " prompt tokens announced, " + std::to_string(f.size() - k) + " fields left";
    return false;
  }
  r.prompt.resize((size_t) n_prompt);
  for (long long i = 0; i < n_prompt; i++) {
    const std::string & t = f[k++];
    long long id;
    if (!parse_ll(t, id)) { err = "malformed request: prompt token " + std::to_string(i) + " '" + t.substr(0, 32) + "' is not an integer"; return false; }
    if (id < 0 || id >= lim.n_vocab) {
      err = "prompt token " + std::to_string(i) + " is id " + std::to_string(id) + ", outside the model's vocabulary of "
          + std::to_string(lim.n_vocab) + " tokens (is the tokenizer.json the GGUF's?)";
      return false;
    }
    r.prompt[(size_t) i] = (llama_token) id;
  }
  if (k < f.size()) {
    const std::string & c = f[k++];
    if (c.empty()) { err = "malformed request: empty constraint field"; return false; }
    if (c != "-") {
      std::string text;
      if (c[0] != 'g' && c[0] != 'j') { err = "unknown output constraint kind '" + c.substr(0, 1) + "'"; return false; }
      if (!from_hex(c.substr(1), text)) { err = "the output constraint is not hex-encoded"; return false; }
      if (c[0] == 'g') r.grammar = text;
      else r.json_schema = text;
    }
  }
  if (k < f.size()) {
    const std::string & a = f[k++];
    if (a != "-") {
      size_t colon = a.find(':');
      long long index;
      float scale;
      if (colon == std::string::npos || !parse_ll(a.substr(0, colon), index) || !parse_float(a.substr(colon + 1), scale)) {
        err = "malformed request: adapter field '" + a.substr(0, 32) + "' is not <index>:<scale>";
        return false;
      }
      if (index < 0 || index >= lim.n_adapters) {
        err = "adapter " + std::to_string(index) + " is not loaded (this server has " + std::to_string(lim.n_adapters)
            + " LoRA adapters, --lora)";
        return false;
      }
      r.adapter = (int) index;
      r.adapter_scale = scale;
    }
  }
  if (k < f.size()) { err = "malformed request: " + std::to_string(f.size() - k) + " extra fields after the adapter"; return false; }
  return true;
}

// llama.cpp's converter (common/json-schema-to-grammar), as its server applies it to "json_schema". Converted here, in
// this process, so no llama.cpp code runs in the executor JVM; cached per schema text (every row of a run shares one).
bool schema_grammar(const std::string & schema, std::string & grammar, std::string & err) {
  static std::unordered_map<std::string, std::string> cache;
  auto it = cache.find(schema);
  if (it != cache.end()) { grammar = it->second; return true; }
  try {
    grammar = json_schema_to_grammar(common_json::parse(schema));
  } catch (const std::exception & e) {
    err = std::string("llama.cpp could not convert the JSON schema to a grammar: ") + e.what();
    return false;
  }
  cache.emplace(schema, grammar);
  return true;
}

llama_sampler * make_sampler(const Request & r, const llama_vocab * vocab) {
  llama_sampler * s = llama_sampler_chain_init(llama_sampler_chain_default_params());
  if (!r.grammar.empty()) {
    // First in the chain: tokens the grammar does not allow next are masked before any other sampler sees them.
    llama_sampler * g = llama_sampler_init_grammar(vocab, r.grammar.c_str(), "root");
    if (g == nullptr) {
      llama_sampler_free(s);
      throw std::runtime_error("llama.cpp could not parse the grammar (GBNF, root rule)");
    }
    llama_sampler_chain_add(s, g);
  }
  if (r.repeat_penalty != 1.0f) {
    // llama.cpp's server default window (penalty_last_n = 64); the prompt is fed to it too, as the server does.
    llama_sampler_chain_add(s, llama_sampler_init_penalties(llama_vocab_n_tokens(vocab), 64, r.repeat_penalty, 0.0f, 0.0f));
  }
  if (r.temperature <= 0) {
    llama_sampler_chain_add(s, llama_sampler_init_greedy());
    return s;
  }
  if (r.top_k > 0) llama_sampler_chain_add(s, llama_sampler_init_top_k(r.top_k));
  if (r.top_p < 1.0f) llama_sampler_chain_add(s, llama_sampler_init_top_p(r.top_p, 1));
  llama_sampler_chain_add(s, llama_sampler_init_temp(r.temperature));
  llama_sampler_chain_add(s, llama_sampler_init_dist(r.seed));
  return s;
}

// The token a slot's sampler picks from its logits: what llama_sampler_sample does (the candidate array, the chain,
// accept) without the context, so slots can be sampled on several threads at once (each slot owns its chain, its RNG
// and its array). Greedy without grammar or penalty takes the first of the largest logits, as llama_sampler_greedy
// does, without filling an array of the whole vocabulary (about 1 ms a sequence per step at llm-jp-3's 99,584 tokens).
llama_token sample_slot(Slot & s, int n_vocab) {
  if (s.argmax) {
    int best = 0;
    for (int i = 1; i < n_vocab; i++) {
      if (s.logits[i] > s.logits[best]) best = i;
    }
    return (llama_token) best;
  }
  s.candidates.resize((size_t) n_vocab);
  for (int i = 0; i < n_vocab; i++) s.candidates[i] = llama_token_data{ (llama_token) i, s.logits[i], 0.0f };
  llama_token_data_array cur = { s.candidates.data(), s.candidates.size(), -1, false };
  llama_sampler_apply(s.smpl, &cur);
  llama_token t = cur.data[cur.selected].id;
  llama_sampler_accept(s.smpl, t);
  return t;
}

// sample_slot, with whatever it throws kept on the slot: an exception must not leave a pool thread (that would end the
// process, every request in it) nor reach the main loop; the slot's request alone fails.
void sample_into(Slot & s, int n_vocab) {
  s.sample_error.clear();
  try {
    s.sampled = sample_slot(s, n_vocab);
  } catch (const std::exception & e) {
    s.sampled = -1;
    s.sample_error = std::string("sampling failed: ") + e.what();
  } catch (...) {
    s.sampled = -1;
    s.sample_error = "sampling failed (unknown exception)";
  }
}

// Samples the slots of one step on the compute threads, which OpenMP parks between decode steps:
// sampling is per sequence and serial in llama.cpp's own server, and on a large vocabulary it is a sizeable part of a
// step (top-p over 99,584 candidates: milliseconds a sequence), time in which every core but one stood idle.
class SamplerPool {
 public:
  SamplerPool(int workers, int n_vocab) : n_vocab_(n_vocab) {
    for (int i = 0; i < workers; i++) threads_.emplace_back([this] { work(); });
  }
  ~SamplerPool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread & t : threads_) t.join();
  }
  void sample(std::vector<Slot *> & todo) {
    bool cheap = std::all_of(todo.begin(), todo.end(), [](const Slot * s) { return s->argmax; });
    if (threads_.empty() || todo.size() < 2 || cheap) {
      for (Slot * s : todo) sample_into(*s, n_vocab_);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      todo_ = &todo;
      next_ = 0;
      done_ = 0;
      round_++;
    }
    cv_.notify_all();
    drain(todo);
    // Every slot sampled, and no worker still inside this round (one that joined late may be about to find nothing
    // left): only then may the caller reuse the list.
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return done_ == todo.size() && active_ == 0; });
    todo_ = nullptr;
  }

 private:
  void drain(std::vector<Slot *> & todo) {
    size_t n = 0;
    for (size_t i; (i = next_.fetch_add(1)) < todo.size(); n++) {
      sample_into(*todo[i], n_vocab_);
    }
    std::lock_guard<std::mutex> lk(mu_);
    done_ += n;
  }
  void work() {
    uint64_t seen = 0;
    while (true) {
      std::vector<Slot *> * todo;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || (todo_ != nullptr && round_ != seen); });
        if (stop_) return;
        seen = round_;
        todo = todo_;
        active_++;
      }
      drain(*todo);
      {
        std::lock_guard<std::mutex> lk(mu_);
        active_--;
      }
      done_cv_.notify_one();
    }
  }
  int n_vocab_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<Slot *> * todo_ = nullptr;
  std::atomic<size_t> next_{0};
  size_t done_ = 0;
  int active_ = 0;  // workers inside the current round
  uint64_t round_ = 0;
  bool stop_ = false;
};

bool grammar_ok(const std::string & grammar, const llama_vocab * vocab) {
  llama_sampler * g = llama_sampler_init_grammar(vocab, grammar.c_str(), "root");
  if (g == nullptr) return false;
  llama_sampler_free(g);
  return true;
}

void log_cb(ggml_log_level level, const char * text, void *) {
  if (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) fputs(text, stderr);
}

}  // namespace

int main(int argc, char ** argv) {
  std::string model_path;
  int threads = (int) std::thread::hardware_concurrency();
  int threads_batch = 0;
  int parallel = 4;
  int kv_size = 4096;
  // --kv-grow-to N: the cache may grow past --kv-size up to N cells (what the client's sequences need to run at once),
  // as long as it takes at most a quarter of the machine's memory.
  long long kv_grow_to = 0;
  int n_batch = 512;
  // --lora PATH, repeated: the LoRA adapters requests may name, by their index in this order (issue 31).
  std::vector<std::string> lora_paths;
  bool prefix_cache = true;
  int cache_seqs = 32;
  for (int i = 1; i < argc; i++) try {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { fprintf(stderr, "jgen-llama-server: %s needs a value\n", a.c_str()); exit(2); }
      return argv[++i];
    };
    if (a == "--model") model_path = next();
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--threads-batch") threads_batch = std::stoi(next());
    else if (a == "--parallel") parallel = std::stoi(next());
    else if (a == "--kv-size") kv_size = std::stoi(next());
    else if (a == "--kv-grow-to") kv_grow_to = std::stoll(next());
    else if (a == "--batch") n_batch = std::stoi(next());
    else if (a == "--lora") lora_paths.push_back(next());
    else if (a == "--prefix-cache") prefix_cache = std::stoi(next()) != 0;
    else if (a == "--cache-seqs") cache_seqs = std::stoi(next());
    else if (a == "--system-info") { printf("%s\n", llama_print_system_info()); return 0; }
    else { fprintf(stderr, "jgen-llama-server: unknown argument %s\n", a.c_str()); return 2; }
  } catch (const std::exception & e) {
    fprintf(stderr, "jgen-llama-server: bad value for %s: %s\n", argv[i - 1], e.what());
    return 2;
  }
  if (model_path.empty()) { fprintf(stderr, "jgen-llama-server: --model is required\n"); return 2; }
  if (threads_batch <= 0) threads_batch = threads;
  if (parallel < 1 || parallel > 255) { fprintf(stderr, "jgen-llama-server: --parallel must be 1 to 255\n"); return 2; }

  // Keep the protocol channel to ourselves: whatever a library prints to stdout goes to stderr instead.
  int proto_fd = dup(1);
  dup2(2, 1);
  g_out = fdopen(proto_fd, "w");

  llama_log_set(log_cb, nullptr);
  llama_backend_init();

  llama_model_params mp = llama_model_default_params();
  llama_model * model = llama_model_load_from_file(model_path.c_str(), mp);
  if (!model) { fprintf(stderr, "jgen-llama-server: could not load %s\n", model_path.c_str()); return 3; }
  const llama_vocab * vocab = llama_model_get_vocab(model);
  // Copying a prefix of a sequence's cells is sound only in a plain KV cache: recurrent and hybrid models keep one state
  // per sequence (no prefix of it to copy), and a sliding-window cache drops early cells a later prefix would need.
  if (prefix_cache && (llama_model_is_recurrent(model) || llama_model_is_hybrid(model) || llama_model_n_swa(model) > 0)) {
    fprintf(stderr, "jgen-llama-server: this model's KV cache cannot share prefixes (recurrent, hybrid or sliding-window); prefix cache off\n");
    prefix_cache = false;
  }
  // Sequence ids for finished sequences kept as a prefix cache, beyond the running ones. llama.cpp allows 256 ids in
  // all (LLAMA_MAX_SEQ); at least one cached id, so a new request can always take a free id or evict a cached one.
  const int n_cached_ids = prefix_cache ? std::max(1, std::min(cache_seqs, 256 - parallel)) : 0;
  const int n_seq_max = parallel + n_cached_ids;

  if (kv_grow_to > kv_size) {
    // F16 keys and values of every layer per cell; head size taken as n_embd / n_head (an estimate for the cap only).
    const long long n_head = std::max(1, llama_model_n_head(model));
    const long long head_dim = llama_model_n_embd(model) / n_head;
    const long long per_cell = (long long) llama_model_n_layer(model) * 2 * std::max(1, llama_model_n_head_kv(model)) * head_dim * 2;
    const long long memory = (long long) sysconf(_SC_PHYS_PAGES) * (long long) sysconf(_SC_PAGE_SIZE);
    long long cap = per_cell > 0 && memory > 0 ? memory / 4 / per_cell : kv_grow_to;
    long long grown = std::min(kv_grow_to, cap);
    if (grown > kv_size) kv_size = (int) std::min<long long>(grown, INT_MAX / 2);
  }

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = (uint32_t) kv_size;
  cp.n_batch = (uint32_t) n_batch;
  cp.n_ubatch = (uint32_t) n_batch;
  cp.n_seq_max = (uint32_t) n_seq_max;
  // llama.cpp reserves one output row per sequence id at creation and asserts they fit in n_outputs_max (default
  // n_batch): a small --batch with the cache's extra ids needs the larger of the two.
  cp.n_outputs_max = (uint32_t) std::max(n_batch, n_seq_max);
  cp.n_threads = threads;
  cp.n_threads_batch = threads_batch;
  cp.kv_unified = true;
  cp.no_perf = true;
  llama_context * ctx = llama_init_from_model(model, cp);
  if (!ctx) { fprintf(stderr, "jgen-llama-server: could not create a context of %d tokens\n", kv_size); return 3; }
  std::vector<llama_adapter_lora *> adapters;
  for (const std::string & path : lora_paths) {
    // llama.cpp checks every A and B against the base's tensor (names, shapes, architecture) and logs the mismatch
    // (to stderr, which the JVM keeps for the load error). Loaded once, before READY: no row is generated with a
    // server whose adapters do not fit.
    llama_adapter_lora * adapter = llama_adapter_lora_init(model, path.c_str());
    if (!adapter) {
      fprintf(stderr, "jgen-llama-server: the LoRA adapter %s does not fit the model %s (see the error above)\n",
              path.c_str(), model_path.c_str());
      return 3;
    }
    adapters.push_back(adapter);
  }
  // The context's adapter set, switched between the adapter groups of a step (llama.cpp re-plans its compute graph on
  // a change: one more reason to keep rows of one adapter together).
  auto use_adapter = [&](const AdapterKey & k) {
    if (k.index < 0) {
      llama_set_adapters_lora(ctx, nullptr, 0, nullptr);
    } else {
      float scale = k.scale;
      llama_set_adapters_lora(ctx, &adapters[(size_t) k.index], 1, &scale);
    }
  };
  llama_memory_t mem = llama_get_memory(ctx);
  // llama.cpp pads the context it allocates; admission uses the size asked for, the number the user configured.
  const size_t n_ctx = std::min((size_t) llama_n_ctx(ctx), (size_t) kv_size);

  // Warm-up before READY, as llama.cpp's own server does at load (common_init): one decode starts the compute threads
  // and pages in the weights, so the first row is not slower than the rest and the load time says what loading costs.
  {
    llama_token bos = llama_vocab_bos(vocab);
    llama_token tok[1] = { bos == LLAMA_TOKEN_NULL ? 0 : bos };
    // A model that cannot decode one token fails here, at load (a run error), not as an error on every row.
    if (llama_decode(ctx, llama_batch_get_one(tok, 1)) != 0) {
      fprintf(stderr, "jgen-llama-server: the model could not decode its first token\n");
      return 3;
    }
    llama_synchronize(ctx);
    llama_memory_clear(mem, true);
  }

  {
    std::ostringstream r;
    r << "READY kv_size=" << n_ctx << " parallel=" << parallel << " threads=" << threads << " threads_batch=" << threads_batch
      << " n_ctx_train=" << llama_model_n_ctx_train(model) << " n_params=" << llama_model_n_params(model)
      << " model_bytes=" << llama_model_size(model) << " prefix_cache=" << (prefix_cache ? 1 : 0)
      << " n_seq_max=" << n_seq_max << " adapters=" << adapters.size() << " system_info=" << to_hex(llama_print_system_info());
    reply(r.str());
    fflush(g_out);
  }

  std::thread(reader).detach();

  std::vector<Slot> slots(parallel);
  const int n_vocab = llama_vocab_n_tokens(vocab);
  SamplerPool sampler_pool(std::max(0, std::min(threads, parallel) - 1), n_vocab);
  std::vector<Slot *> to_sample;
  std::deque<Request> queue;
  llama_batch batch = llama_batch_init(std::max(n_batch, parallel), 0, 1);
  std::vector<SeqState> seqs((size_t) n_seq_max);
  CellBook cells;
  uint64_t clock = 0;

  // Removes a sequence's cells from the KV cache (those it shares stay with the other holders) and frees its id.
  auto drop_seq = [&](llama_seq_id id) {
    SeqState & q = seqs[(size_t) id];
    llama_memory_seq_rm(mem, id, -1, -1);
    for (uint64_t c : q.cells) cells.unref(c);
    q = SeqState();
  };

  // The least recently used cached sequence other than `keep`, or -1.
  auto lru_cached = [&](llama_seq_id keep) {
    llama_seq_id best = -1;
    for (size_t i = 0; i < seqs.size(); i++) {
      const SeqState & q = seqs[i];
      if (!q.in_use || q.slot >= 0 || (llama_seq_id) i == keep) continue;
      if (best < 0 || q.last_use < seqs[(size_t) best].last_use) best = (llama_seq_id) i;
    }
    return best;
  };

  // Cells the running requests may still create: what they reserved less what they decoded so far.
  auto outstanding = [&]() {
    size_t n = 0;
    for (const Slot & s : slots) {
      if (!s.busy) continue;
      size_t created = seqs[(size_t) s.seq].cells.size() - s.reused;
      n += s.reserved > created ? s.reserved - created : 0;
    }
    return n;
  };

  // A finished request's sequence stays in the cache (its cells are a prefix for later requests) when `keep` and the
  // cache is on; otherwise, and for a failed or cancelled request, its cells go.
  auto finish = [&](Slot & s, bool keep = false) {
    if (s.seq >= 0) {
      if (keep && prefix_cache) {
        seqs[(size_t) s.seq].slot = -1;
        seqs[(size_t) s.seq].last_use = ++clock;
      } else {
        drop_seq(s.seq);
      }
    }
    s.seq = -1;
    llama_sampler_free(s.smpl);
    s.smpl = nullptr;
    s.busy = false;
    s.out.clear();
    s.text.clear();
  };

  const Limits limits{ n_vocab, n_ctx, (int) adapters.size() };

  // Every busy slot's request fails with an F reply (the engine's fault, not the row's).
  auto fail_busy = [&](const std::string & msg) {
    for (Slot & s : slots) {
      if (s.busy) {
        reply("F " + s.req.id + " " + to_hex(msg));
        finish(s);
      }
    }
  };

  // One protocol line. Whatever a request holds, it gets one reply naming its id (or "?" when no id could be read),
  // and an exception here fails that request alone.
  auto handle_line = [&](const std::string & line) {
    Request r;
    try {
      if (line.rfind("G ", 0) == 0) {
        std::string err;
        if (!parse_generate(line, limits, r, err)) {
          reply("E " + (r.id.empty() ? std::string("?") : r.id) + " " + to_hex(err));
          return;
        }
        size_t need = r.prompt.size() + (size_t) r.max_new;
        if (!r.json_schema.empty() && !schema_grammar(r.json_schema, r.grammar, err)) {
          reply("E " + r.id + " " + to_hex(err));
        } else if (need > n_ctx) {
          reply("E " + r.id + " " + to_hex("the row needs " + std::to_string(need) + " tokens of KV cache (prompt "
              + std::to_string(r.prompt.size()) + " + max_new_tokens " + std::to_string(r.max_new)
              + ") but the engine's KV cache holds " + std::to_string(n_ctx) + " tokens (engine.ctx_size)"));
        } else if (!r.grammar.empty() && !grammar_ok(r.grammar, vocab)) {
          reply("E " + r.id + " " + to_hex("llama.cpp could not parse the grammar (GBNF, root rule)"));
        } else {
          queue.push_back(std::move(r));
        }
      } else if (line.rfind("C ", 0) == 0) {
        std::string id = line.substr(2);
        bool found = false;
        for (auto it = queue.begin(); it != queue.end(); ++it) {
          if (it->id == id) { queue.erase(it); found = true; break; }
        }
        for (Slot & s : slots) {
          if (!found && s.busy && s.req.id == id) { finish(s); found = true; }
        }
        if (found) reply("X " + id);
      } else {
        reply("E ? " + to_hex("not a request: '" + line.substr(0, 40) + "'"));
      }
    } catch (const std::exception & e) {
      reply("E " + (r.id.empty() ? std::string("?") : r.id) + " " + to_hex(std::string("the request failed: ") + e.what()));
    } catch (...) {
      reply("E " + (r.id.empty() ? std::string("?") : r.id) + " " + to_hex("the request failed (unknown exception)"));
    }
  };

  // One decode of the running sequences of one adapter set, and its replies; false when nothing was there to decode.
  auto step_group = [&](const AdapterKey & group) -> bool {
    batch.n_tokens = 0;
    auto add = [&](llama_token t, llama_pos p, llama_seq_id seq, bool logits) {
      // Recorded before the decode: if it fails, every running sequence is dropped (fail_busy), these cells with it.
      seqs[(size_t) seq].toks.push_back(t);
      seqs[(size_t) seq].cells.push_back(cells.fresh());
      int i = batch.n_tokens++;
      batch.token[i] = t;
      batch.pos[i] = p;
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = seq;
      batch.logits[i] = logits;
      return i;
    };
    for (size_t k = 0; k < slots.size(); k++) {
      Slot & s = slots[k];
      s.batch_idx = -1;
      if (s.busy && s.adapter == group && s.n_fed == s.req.prompt.size() && s.next >= 0) {
        s.batch_idx = add(s.next, s.pos++, s.seq, true);
      }
    }
    for (size_t k = 0; k < slots.size() && batch.n_tokens < n_batch; k++) {
      Slot & s = slots[k];
      if (!s.busy || !(s.adapter == group) || s.n_fed >= s.req.prompt.size()) continue;
      while (s.n_fed < s.req.prompt.size() && batch.n_tokens < n_batch) {
        bool last = s.n_fed + 1 == s.req.prompt.size();
        int i = add(s.req.prompt[s.n_fed++], s.pos++, s.seq, last);
        if (last) s.batch_idx = i;
      }
    }
    if (batch.n_tokens == 0) return false;

    use_adapter(group);
    int rc = llama_decode(ctx, batch);
    if (rc != 0) {
      // Reservations and the checks on every request keep this from happening; if it does, it is the engine's fault:
      // the rows of this step fail as run errors rather than the executor.
      fail_busy("llama_decode failed (" + std::to_string(rc) + ")");
      return true;
    }

    // 4. Sample for every sequence whose logits came out of this step: logits read here (llama_get_logits_ith may
    // reorder the context's outputs), tokens picked on the pool, then stop checks and replies here, in slot order.
    to_sample.clear();
    for (Slot & s : slots) {
      if (!s.busy || s.batch_idx < 0) continue;
      s.logits = llama_get_logits_ith(ctx, s.batch_idx);
      to_sample.push_back(&s);
    }
    sampler_pool.sample(to_sample);
    for (size_t k = 0; k < slots.size(); k++) {
      Slot & s = slots[k];
      if (!s.busy || s.batch_idx < 0) continue;
      if (!s.sample_error.empty()) {
        // The row's own grammar failed while sampling: its error alone.
        reply("E " + s.req.id + " " + to_hex(s.sample_error));
        finish(s);
        continue;
      }
      llama_token t = s.sampled;
      s.out.push_back(t);
      const char * reason = nullptr;
      if (llama_vocab_is_eog(vocab, t)) {
        reason = "stop";
      } else {
        char buf[256];
        int n = llama_token_to_piece(vocab, t, buf, sizeof buf, 0, false);
        if (n > 0) s.text.append(buf, n);
        // A stop string ends the text where it starts; only the tail can hold a new match.
        size_t cut = std::string::npos;
        for (const std::string & st : s.req.stop) {
          if (st.empty()) continue;
          size_t from = s.text.size() > st.size() + (size_t) std::max(n, 0) ? s.text.size() - st.size() - n : 0;
          size_t at = s.text.find(st, from);
          if (at != std::string::npos) cut = std::min(cut, at);
        }
        if (cut != std::string::npos) {
          s.text.resize(cut);
          reason = "stop";
        } else if ((int) s.out.size() >= s.req.max_new) {
          reason = "length";
        }
      }
      if (reason) {
        std::string ids;
        for (size_t j = 0; j < s.out.size(); j++) {
          if (j) ids.push_back(',');
          ids += std::to_string(s.out[j]);
        }
        reply("D " + s.req.id + " " + std::to_string(s.req.prompt.size()) + " " + std::to_string(s.out.size()) + " " + reason
            + " " + to_hex(s.text) + " " + (ids.empty() ? "-" : ids) + " " + std::to_string(s.reused));
        finish(s, true);
      } else {
        s.next = t;
      }
    }
    return true;
  };

  // One step: each adapter set among the running sequences decoded in turn (one set, one decode: the usual case when
  // rows arrive grouped by adapter); false when nothing was there to decode.
  std::vector<AdapterKey> groups;
  auto step = [&]() -> bool {
    groups.clear();
    for (const Slot & s : slots) {
      if (s.busy && std::find(groups.begin(), groups.end(), s.adapter) == groups.end()) groups.push_back(s.adapter);
    }
    bool any = false;
    for (const AdapterKey & g : groups) any = step_group(g) || any;
    return any;
  };

  while (true) {
    // 1. Take new lines; block only when nothing is running.
    std::deque<std::string> lines;
    {
      std::unique_lock<std::mutex> lk(g_mu);
      bool idle = queue.empty() && std::none_of(slots.begin(), slots.end(), [](const Slot & s) { return s.busy; });
      if (idle) g_cv.wait(lk, [] { return !g_inbox.empty() || g_eof; });
      // EOF: the JVM closed the engine or died (a killed executor). Stop at once; nobody reads the replies any more.
      if (g_eof) break;
      lines.swap(g_inbox);
    }
    for (const std::string & line : lines) {
      handle_line(line);
    }
    if (!lines.empty()) fflush(g_out);  // refusals and cancels are answered even when no decode step follows

    // 2. Admit queued requests, in order, while a slot and their KV cells are free. With the prefix cache a request
    // starts from the longest prefix of its prompt held by a sequence in the cache (running, or finished and kept):
    // the prefix's cells are copied to its sequence (in the unified cache a copy only adds the sequence's id to the
    // cells) and only the rest of the prompt is decoded. Greedy outputs stay the same: the copied cells hold what
    // decoding the same tokens at the same positions would have written.
    for (auto it = queue.begin(); it != queue.end();) {
      auto free_slot = std::find_if(slots.begin(), slots.end(), [](const Slot & s) { return !s.busy; });
      if (free_slot == slots.end()) break;
      const Request & q = *it;
      const AdapterKey qkey = adapter_key(q);
      // At least the prompt's last token is decoded, whatever is cached: its logits are what the first new token is
      // sampled from (llama.cpp's server does the same when the whole prompt is cached).
      const size_t cap = q.prompt.size() - 1;
      llama_seq_id src = -1;
      size_t match = 0;
      if (prefix_cache) {
        for (size_t i = 0; i < seqs.size(); i++) {
          if (!seqs[i].in_use || !(seqs[i].adapter == qkey)) continue;
          size_t n = common_prefix(q.prompt, seqs[i].toks);
          if (n > match) {
            match = n;
            src = (llama_seq_id) i;
          }
        }
        // A running request still decoding a longer shared prefix: this one waits for those cells rather than
        // computing them a second time in parallel (rows sharing a prefix arrive together; without the wait, all
        // but the first of a group admitted in one step would decode the whole prefix). The wait is bounded: the
        // other request's prompt advances every step, and if it goes (cancelled, failed), so does the reason to wait.
        // Later requests in the queue may take the free slot meanwhile.
        size_t coming = 0;
        for (const Slot & s : slots) {
          if (s.busy && s.adapter == qkey && s.n_fed < s.req.prompt.size()) coming = std::max(coming, common_prefix(q.prompt, s.req.prompt));
        }
        if (std::min(coming, cap) > std::min(match, cap)) {
          ++it;
          continue;
        }
      }
      size_t reuse = std::min(match, cap);
      size_t need = q.prompt.size() - reuse + (size_t) q.max_new;
      // Cells for whatever it may create, evicting cached sequences oldest first, the one it copies from last.
      auto fits = [&] { return cells.used() + outstanding() + need <= n_ctx; };
      while (!fits()) {
        llama_seq_id victim = lru_cached(src);
        if (victim < 0) break;
        drop_seq(victim);
      }
      if (!fits() && reuse > 0 && seqs[(size_t) src].slot < 0) {
        drop_seq(src);
        src = -1;
        reuse = 0;
        need = q.prompt.size() + (size_t) q.max_new;
      }
      if (!fits()) break;  // running requests hold the cells: wait for them, in queue order
      // A sequence id: a free one, else the oldest cached one's. There is always one: the cache has at least one id
      // more than there are slots, and a slot is free.
      llama_seq_id id = -1;
      for (size_t i = 0; i < seqs.size() && id < 0; i++) {
        if (!seqs[i].in_use) id = (llama_seq_id) i;
      }
      if (id < 0) {
        id = lru_cached(src);
        if (id < 0) break;
        drop_seq(id);
      }
      Slot & s = *free_slot;
      s.req = std::move(*it);
      it = queue.erase(it);
      SeqState & dst = seqs[(size_t) id];
      dst.in_use = true;
      dst.slot = (int) (&s - &slots[0]);
      dst.adapter = qkey;
      if (reuse > 0) {
        SeqState & from = seqs[(size_t) src];
        llama_memory_seq_cp(mem, src, id, 0, (llama_pos) reuse);
        dst.toks.assign(from.toks.begin(), from.toks.begin() + (long) reuse);
        dst.cells.assign(from.cells.begin(), from.cells.begin() + (long) reuse);
        for (uint64_t c : dst.cells) cells.ref(c);
        from.last_use = ++clock;  // a prefix in use is a hot one: evicted after the ones nobody asked for
      }
      s.busy = true;
      s.adapter = qkey;
      s.seq = id;
      s.reused = reuse;
      s.n_fed = reuse;
      s.pos = (llama_pos) reuse;
      s.next = -1;
      s.reserved = need;
      try {
        s.smpl = make_sampler(s.req, vocab);
        s.argmax = s.req.temperature <= 0 && s.req.grammar.empty() && s.req.repeat_penalty == 1.0f;
        // The prompt feeds the repetition penalty's window, as llama.cpp's server does; not under a grammar, whose
        // state must see only generated tokens.
        if (s.req.repeat_penalty != 1.0f && s.req.grammar.empty()) {
          for (llama_token t : s.req.prompt) llama_sampler_accept(s.smpl, t);
        }
      } catch (const std::exception & e) {
        reply("E " + s.req.id + " " + to_hex(std::string("the request was refused at admission: ") + e.what()));
        finish(s);
        fflush(g_out);
      }
    }

    // 3. One batch: the next token of every generating sequence, then prompt chunks up to n_batch. Every token in it
    // was checked against the vocabulary (parse_generate) or sampled from it.
    try {
      if (!step()) continue;
    } catch (const std::exception & e) {
      // Not a row's doing (rows are checked before they join a batch): the rows of this step fail as run errors, the
      // server goes on with the next requests.
      fail_busy(std::string("the engine failed in a decode step: ") + e.what());
    } catch (...) {
      fail_busy("the engine failed in a decode step (unknown exception)");
    }
    fflush(g_out);
  }

  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
