#pragma once
// A generation request: prompt token ids + SamplingParams (n samples, stop conditions), and what
// the engine hands back when it finishes.

#include <cstdint>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "engine/sampling_params.h"

namespace pagedkv {

using RequestId = int64_t;

struct Request {
  RequestId id = -1;
  std::vector<int32_t> prompt;  // [P] token ids, P >= 1
  SamplingParams params;
};

// What the model can serve: vocabulary and context length (prompt + generated tokens).
struct RequestLimits {
  int64_t vocab_size = 0;
  int64_t max_model_len = 0;
};

// Throws Error(InvalidArgument) naming the problem: empty prompt, a token id outside [0, vocab),
// max_tokens < 1, n < 1, prompt (+ max_tokens) longer than the context, bad sampling knobs.
void validate_request(const std::vector<int32_t>& prompt, const SamplingParams& params,
                      const RequestLimits& limits);

struct SampleOutput {
  std::vector<int32_t> tokens;  // generated ids (a stop id / matched stop sequence removed)
  FinishReason finish = FinishReason::kNone;
  std::string text;                     // decoded text (engine with a tokenizer), stops cut
  std::vector<TokenLogprobs> logprobs;  // [tokens] when the request asked (params.logprobs)
};

struct RequestOutput {
  RequestId id = -1;
  std::vector<int32_t> prompt;
  int64_t prefix_hit_tokens = 0;  // prompt tokens served from the prefix cache (first admission)
  std::vector<SampleOutput> samples;  // [n], sample i drew from Rng(seed + i)
  // Non-empty: the request failed (the model produced non-finite logits for it); its samples
  // finish kAbort with what they had. The engine and its other requests go on.
  std::string error;
};

}  // namespace pagedkv
