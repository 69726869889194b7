#pragma once
// StepRunner: runs one scheduled step through a ModelRunner — one batched decode call for every
// decode token, then one prefill call per chunk — and hands back the logits rows the engine
// samples from. After the step, every full block whose tokens were just written is published to
// the prefix cache.

#include <cstdint>
#include <vector>

#include "engine/model_runner.h"
#include "engine/scheduler.h"

namespace pagedkv {

struct LogitsRow {
  Sequence* seq = nullptr;
  const float* logits = nullptr;  // [V], valid until the next execute(); null: sampled already
  int32_t token = -1;             // the token the runner drew (logits null; -1: not finite)
};

// The counter-based draw of a sequence's next token (its seed + sample index, its token index).
CounterDraw counter_draw(const Sequence& s);

struct RunnerTimings {
  int64_t prefill_tokens = 0;
  int64_t decode_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

class StepRunner {
 public:
  StepRunner(ModelRunner& model, KvCache& cache) : model_(model), cache_(cache) {}

  // Updates each sequence's num_cached. Rows: one per decode sequence (in step order), then one
  // per chunk that completes a fresh prompt (its last token's logits give the first sample).
  std::vector<LogitsRow> execute(const ScheduledStep& step);

  const RunnerTimings& timings() const { return timings_; }

 private:
  ModelRunner& model_;
  KvCache& cache_;
  std::vector<float> decode_logits_;                // [B, V]
  std::vector<std::vector<float>> prefill_logits_;  // [chunks][V]
  RunnerTimings timings_;
};

}  // namespace pagedkv
