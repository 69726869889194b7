#pragma once
// Sequence: one sample of a request as the scheduler sees it — its tokens (prompt + generated),
// how many of them have K/V in the cache, and its own random generator.
//
// Life cycle: waiting -> running (prefill in chunks, then decode) -> finished; preemption sends a
// running sequence back to waiting with no cached tokens, and it is recomputed from its tokens
// later (prompt + everything generated so far), so nothing is lost.

#include <cstdint>
#include <vector>

#include "core/random.h"
#include "engine/output_processor.h"
#include "engine/request.h"
#include "kv/kv_cache.h"

namespace pagedkv {

enum class SeqStatus { kWaiting, kRunning, kFinished };

struct Sequence {
  Sequence(SeqId id, RequestId request, int64_t arrival, int32_t sample,
           const SamplingParams* params, std::vector<int32_t> tokens, const Tokenizer* tokenizer);

  SeqId id;
  RequestId request;
  int64_t arrival;  // admission order of the request (FCFS; the newest is preempted first)
  int32_t sample;   // index among the request's n samples
  const SamplingParams* params;  // owned by the engine's request record
  std::vector<int32_t> tokens;   // prompt ++ generated, everything ever fed or sampled
  int64_t prompt_len;
  OutputState out;                // generated ids, text, log-probabilities, finish reason
  int64_t num_cached = 0;         // leading tokens whose K/V are in the cache
  int64_t prefix_hit_tokens = 0;  // of those, tokens taken from the prefix cache at admission
  int64_t first_hit_tokens = -1;  // prefix-cache hit of the first admission (-1: not admitted)
  int32_t forks_pending = 0;      // samples to fork off once the prompt's logits are known
  Rng rng;                        // Rng(params.seed + sample): independent of batching
  SeqStatus status = SeqStatus::kWaiting;

  int64_t num_generated() const { return int64_t(tokens.size()) - prompt_len; }
  // Tokens to have in the cache before this sequence decodes: all of them for a fresh prompt
  // (whose last logits give the first sample), all but the last sampled one for a recomputed
  // sequence (decode feeds that one).
  int64_t prefill_target() const {
    return num_generated() == 0 ? int64_t(tokens.size()) : int64_t(tokens.size()) - 1;
  }
  bool prefilling() const { return num_cached < prefill_target(); }
  // Order of age: earlier request first, then lower sample index.
  bool older_than(const Sequence& o) const {
    return arrival != o.arrival ? arrival < o.arrival : sample < o.sample;
  }
};

}  // namespace pagedkv
