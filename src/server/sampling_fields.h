#pragma once
// The sampling and stopping fields both generation endpoints share, read from a request body into
// SamplingParams. Defaults: the request's value, else the checkpoint's generation_config.json
// (temperature, top_p, top_k, as vLLM does), else OpenAI's (temperature 1, top_p 1). Stop ids:
// the checkpoint's EOS unless `ignore_eos` (a vLLM extension), plus `stop_token_ids`.
//
// Ranges (OpenAI's where it has one): temperature [0, 2], top_p (0, 1], top_k -1 or 0 (off) up
// to the vocabulary, min_p [0, 1], n [1, 128], seed any 64-bit integer, stop at most 16 strings,
// logprobs / top_logprobs [0, 20]. Fields OpenAI defines that would change the output and that
// pagedkv does not implement (penalties, logit_bias, best_of > n, echo, suffix) are refused
// rather than ignored.

#include "engine/sampling_params.h"
#include "server/json_fields.h"
#include "server/served_model.h"

namespace pagedkv {

inline constexpr int32_t kMaxN = 128;
inline constexpr size_t kMaxStopStrings = 16;

// Everything but max_tokens (which depends on the prompt) and logprobs (the endpoints spell it
// differently). A missing seed draws a random one.
SamplingParams parse_sampling_fields(const JsonFields& f, const ServedModel& model);

}  // namespace pagedkv
