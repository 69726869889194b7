#pragma once
// Per-request sampling and stopping parameters (the knobs vLLM's SamplingParams exposes).

#include <cstdint>
#include <string>
#include <vector>

namespace pagedkv {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy (argmax, lowest id wins ties)
  int32_t top_k = 0;         // 0: off; else keep the k most likely tokens (< 0 is refused)
  float top_p = 1.0f;        // 1: off; else keep the smallest set whose probability reaches top_p
  float min_p = 0.0f;        // 0: off; else drop tokens with p < min_p * p_max
  uint64_t seed = 0;         // sample i of a request draws from Rng(seed + i): reproducible
  int32_t max_tokens = 16;   // new tokens per sample, >= 1
  int32_t n = 1;             // parallel samples; n > 1 forks the prompt's blocks (copy-on-write)
  std::vector<int32_t> stop_token_ids;               // e.g. EOS ids; not part of the output
  std::vector<std::vector<int32_t>> stop_sequences;  // token-id sequences; removed from output
  std::vector<std::string> stop;    // text stop strings (the engine needs a tokenizer); not in
                                    // the text, though the tokens that made them stay in `tokens`
  int32_t logprobs = 0;             // > 0: the top-N log-probabilities of each generated token
  bool skip_special_tokens = true;  // special tokens' text left out of the output text
};

enum class FinishReason { kNone, kLength, kStopToken, kStopSequence, kStopString, kAbort };

// What an OpenAI-style client sees: "stop" (any stop condition), "length", "abort", "none".
const char* finish_reason_name(FinishReason r);

// Checks params against the model's vocabulary; throws InvalidArgument naming the field.
void validate_sampling_params(const SamplingParams& p, int32_t vocab_size);

// Largest top-N log-probabilities a request may ask for (OpenAI's top_logprobs limit).
inline constexpr int32_t kMaxLogprobs = 20;
// Most parallel samples of one request: each is a sequence that lives as long as the request, so
// n is capped like the other limits (the server's kMaxN is lower still).
inline constexpr int32_t kMaxSamples = 256;

// After `output` grew by one token: the reason to stop, if any. A stop token is removed from
// `output`, and so are the tokens of a matched stop sequence (they are not part of the answer).
FinishReason check_stop(const SamplingParams& p, std::vector<int32_t>& output);

}  // namespace pagedkv
