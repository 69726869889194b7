#pragma once
// Engine: requests in, tokens out. One KvCache (with the prefix cache), one Scheduler, and the
// model behind the ModelRunner interface (CPU or CUDA), driven step by step by a StepRunner.
//
//   Engine engine(runner, config);                        // or Engine(causal_lm, config): CPU
//   RequestId id = engine.add_request(prompt, params);   // validated; throws on bad input
//   while (engine.has_unfinished()) for (RequestOutput& o : engine.step()) ...;
//
// A request with n > 1 samples prefills its prompt once; when the prompt's logits are known the
// sequence is forked n - 1 times (KvCache::fork: the prompt's blocks are shared, a shared partial
// tail is copied on the first write) and each sample draws from Rng(seed + i).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "engine/model_runner.h"
#include "engine/output_processor.h"
#include "engine/request.h"
#include "engine/scheduler.h"
#include "engine/sequence.h"
#include "engine/step_runner.h"
#include "kv/kv_cache.h"
#include "model/causal_lm.h"

namespace pagedkv {

struct EngineConfig {
  int32_t num_blocks = 1024;  // per layer group
  int32_t block_size = 16;
  std::optional<DType> kv_dtype;  // unset: the runner's default (CPU f32, CUDA bf16)
  // Text: with a tokenizer (non-owning; must outlive the engine) outputs carry text and requests
  // may use stop strings. Null: token ids only.
  const Tokenizer* tokenizer = nullptr;
  bool enable_prefix_cache = true;
  // Context: prompt + generated tokens per sample. 0: the model's max_model_len() (4096 when the
  // model does not say).
  int64_t max_model_len = 0;
  SchedulerConfig scheduler;
};

struct EngineMetrics {
  // Pool, summed over layer groups (each group has its own pool of num_blocks).
  int64_t blocks_total = 0, blocks_used = 0, blocks_cached = 0, blocks_free = 0;
  int64_t bytes_total = 0, bytes_used = 0;
  int64_t peak_blocks_used = 0, peak_bytes_used = 0;  // highest after any step
  // Prefix cache: admissions looked up, their tokens, tokens served from cached blocks.
  int64_t prefix_queries = 0, prefix_query_tokens = 0, prefix_hit_tokens = 0;
  double prefix_hit_rate = 0;  // hit tokens / query tokens
  int64_t evictions = 0;
  int64_t preemptions = 0;
  int64_t steps = 0;
  int64_t prefill_tokens = 0, decode_tokens = 0;  // computed (cache hits are not prefill tokens)
  double prefill_seconds = 0, decode_seconds = 0;
  double prefill_tokens_per_s() const {
    return prefill_seconds > 0 ? prefill_tokens / prefill_seconds : 0;
  }
  double decode_tokens_per_s() const {
    return decode_seconds > 0 ? decode_tokens / decode_seconds : 0;
  }
  int64_t running = 0, waiting = 0, finished_requests = 0;  // running / waiting: sequences
  // Requests with a sample running now, and the other unfinished ones (not admitted yet, or
  // every sample preempted). O(requests) to count.
  int64_t running_requests = 0, waiting_requests = 0;
};

class Engine {
 public:
  // The runner (or model) must outlive the engine.
  Engine(ModelRunner& runner, EngineConfig config);
  // The CPU runner over `model`, owned by the engine.
  Engine(const CausalLm& model, EngineConfig config);

  // Validates (validate_request, n <= max_num_seqs since a request's samples run at once, and
  // that one sample fits the empty pool), then queues the request. A rejected request changes
  // nothing. Returns its id (0, 1, 2, ... in arrival order).
  RequestId add_request(std::vector<int32_t> prompt, SamplingParams params);

  // Stops a request now (waiting or running; its blocks go back to the pool, full blocks stay in
  // the prefix cache) and returns what it had produced, finish kAbort for unfinished samples.
  // Nothing when the id is unknown or already finished.
  std::optional<RequestOutput> abort(RequestId id);

  // Streaming: called during step() with every sample's delta (new ids, new text, finish).
  using Listener = std::function<void(const OutputDelta&)>;
  void set_listener(Listener listener) { listener_ = std::move(listener); }

  bool has_unfinished() const { return !requests_.empty(); }
  // One scheduler step; returns the requests that finished in it, including any that failed in
  // it (non-finite logits: RequestOutput::error set, the other requests unaffected).
  std::vector<RequestOutput> step();
  // Steps until every request has finished; outputs sorted by id.
  std::vector<RequestOutput> run();

  EngineMetrics metrics() const;
  const KvCache& cache() const { return cache_; }
  // The resolved configuration (max_model_len filled in from the model when it was 0).
  const EngineConfig& config() const { return config_; }

 private:
  struct RequestState {
    Request request;
    int64_t arrival = 0;
    std::vector<Sequence*> samples;  // [n]; null until forked
    int32_t num_finished = 0;
  };
  Sequence* new_sequence(RequestState& r, int32_t sample, std::vector<int32_t> tokens);
  void on_token(Sequence* seq, int32_t token, std::span<const float> logits,
                std::vector<RequestOutput>& done);
  RequestOutput take_output(RequestState& r);
  void update_peaks();

  Engine(std::unique_ptr<ModelRunner> owned, ModelRunner* borrowed, EngineConfig config);

  std::unique_ptr<ModelRunner> owned_runner_;  // set when built from a CausalLm
  ModelRunner& model_;
  EngineConfig config_;
  KvCache cache_;
  Scheduler scheduler_;
  StepRunner runner_;
  std::map<RequestId, RequestState> requests_;
  std::unordered_map<SeqId, std::unique_ptr<Sequence>> seqs_;
  RequestId next_request_ = 0;
  SeqId next_seq_ = 0;
  int64_t steps_ = 0, finished_requests_ = 0, peak_blocks_ = 0, peak_bytes_ = 0;
  Listener listener_;
};

}  // namespace pagedkv
