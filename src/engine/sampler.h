#pragma once
// Turns one row of logits into a token id under SamplingParams. Greedy is an argmax; otherwise
// temperature -> top-k -> top-p -> min-p -> draw, the order HF's logits warpers apply them.
// Cost: O(V) for greedy; O(V log k) with top-k, O(V log V) when top-p needs a full sort.

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/random.h"
#include "engine/sampling_params.h"

namespace pagedkv {

// Lowest index among the maxima (deterministic tie-break).
int32_t argmax(std::span<const float> logits);

// Draws one token. `rng` is the sample's own generator (seeded from params.seed), so results do
// not depend on what else is batched with the request.
int32_t sample_token(std::span<const float> logits, const SamplingParams& params, Rng& rng);

// The model's log-probabilities (log-softmax of the raw logits, before temperature and the other
// knobs, as OpenAI and vLLM report them) of one chosen token and of the top_n most likely ones.
struct TokenLogprobs {
  int32_t token = -1;
  float logprob = 0.f;
  std::vector<std::pair<int32_t, float>> top;  // [top_n] (id, logprob), most likely first
};
TokenLogprobs token_logprobs(std::span<const float> logits, int32_t token, int32_t top_n);

}  // namespace pagedkv
