#pragma once
// ModelRunner: runs one scheduled step on a CausalLm — one batched decode call for every decode
// token, then one prefill call per chunk (the model's prefill takes one sequence at a time) — and
// hands back the logits rows the engine samples from. After the step, every full block whose
// tokens were just written is published to the prefix cache.

#include <cstdint>
#include <vector>

#include "engine/scheduler.h"
#include "model/causal_lm.h"

namespace pagedkv {

struct LogitsRow {
  Sequence* seq = nullptr;
  const float* logits = nullptr;  // [V], valid until the next execute()
};

struct RunnerTimings {
  int64_t prefill_tokens = 0;
  int64_t decode_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

class ModelRunner {
 public:
  ModelRunner(const CausalLm& model, KvCache& cache) : model_(model), cache_(cache) {}

  // Updates each sequence's num_cached. Rows: one per decode sequence (in step order), then one
  // per chunk that completes a fresh prompt (its last token's logits give the first sample).
  std::vector<LogitsRow> execute(const ScheduledStep& step);

  const RunnerTimings& timings() const { return timings_; }

 private:
  const CausalLm& model_;
  KvCache& cache_;
  std::vector<float> decode_logits_;                // [B, V]
  std::vector<std::vector<float>> prefill_logits_;  // [chunks][V]
  RunnerTimings timings_;
};

// Draws the next token of `seq` from its logits row with its own generator.
int32_t sample_next(Sequence& seq, const float* logits, int64_t vocab_size);

}  // namespace pagedkv
