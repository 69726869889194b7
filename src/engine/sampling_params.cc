#include "engine/sampling_params.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pagedkv {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStopToken:
    case FinishReason::kStopSequence:
    case FinishReason::kStopString:
      return "stop";
    case FinishReason::kAbort:
      return "abort";
  }
  return "unknown";
}

void validate_sampling_params(const SamplingParams& p, int32_t vocab_size) {
  PKV_CHECK(std::isfinite(p.temperature) && p.temperature >= 0.0f, InvalidArgument,
            "temperature must be a finite number >= 0, got ", p.temperature);
  PKV_CHECK(p.top_k >= 0, InvalidArgument, "top_k must be >= 0 (0: off), got ", p.top_k);
  PKV_CHECK(p.top_k <= vocab_size, InvalidArgument, "top_k ", p.top_k, " exceeds vocab size ",
            vocab_size);
  PKV_CHECK(p.top_p > 0.0f && p.top_p <= 1.0f, InvalidArgument, "top_p must be in (0, 1], got ",
            p.top_p);
  PKV_CHECK(p.min_p >= 0.0f && p.min_p <= 1.0f, InvalidArgument, "min_p must be in [0, 1], got ",
            p.min_p);
  PKV_CHECK(p.max_tokens >= 1, InvalidArgument, "max_tokens must be >= 1, got ", p.max_tokens);
  PKV_CHECK(p.n >= 1 && p.n <= kMaxSamples, InvalidArgument, "n (parallel samples) must be in [1, ",
            kMaxSamples, "], got ", p.n);
  for (int32_t id : p.stop_token_ids)
    PKV_CHECK(id >= 0 && id < vocab_size, InvalidArgument, "stop token id ", id,
              " is outside the vocabulary [0, ", vocab_size, ")");
  for (const std::string& s : p.stop)
    PKV_CHECK(!s.empty(), InvalidArgument, "a stop string is empty");
  PKV_CHECK(p.logprobs >= 0 && p.logprobs <= kMaxLogprobs, InvalidArgument,
            "logprobs must be in [0, ", kMaxLogprobs, "], got ", p.logprobs);
  for (const auto& seq : p.stop_sequences) {
    PKV_CHECK(!seq.empty(), InvalidArgument, "a stop sequence is empty");
    for (int32_t id : seq)
      PKV_CHECK(id >= 0 && id < vocab_size, InvalidArgument, "stop sequence token id ", id,
                " is outside the vocabulary [0, ", vocab_size, ")");
  }
}

FinishReason check_stop(const SamplingParams& p, std::vector<int32_t>& output) {
  if (output.empty()) return FinishReason::kNone;
  for (const auto& seq : p.stop_sequences) {
    if (seq.size() <= output.size() &&
        std::equal(seq.begin(), seq.end(), output.end() - std::ptrdiff_t(seq.size()))) {
      output.resize(output.size() - seq.size());
      return FinishReason::kStopSequence;
    }
  }
  const int32_t last = output.back();
  if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), last) != p.stop_token_ids.end()) {
    output.pop_back();
    return FinishReason::kStopToken;
  }
  if (int32_t(output.size()) >= p.max_tokens) return FinishReason::kLength;
  return FinishReason::kNone;
}

}  // namespace pagedkv
