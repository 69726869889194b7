#include "engine/request.h"

#include "core/error.h"

namespace pagedkv {

void validate_request(const std::vector<int32_t>& prompt, const SamplingParams& params,
                      const RequestLimits& limits) {
  PKV_CHECK(!prompt.empty(), InvalidArgument, "request: the prompt is empty (needs >= 1 token)");
  for (size_t i = 0; i < prompt.size(); ++i)
    PKV_CHECK(prompt[i] >= 0 && prompt[i] < limits.vocab_size, InvalidArgument,
              "request: prompt token ", i, " has id ", prompt[i], ", outside the vocabulary [0, ",
              limits.vocab_size, ")");
  validate_sampling_params(params, int32_t(limits.vocab_size));
  PKV_CHECK(int64_t(prompt.size()) < limits.max_model_len, InvalidArgument,
            "request: the prompt has ", prompt.size(), " tokens; the model's context is ",
            limits.max_model_len, " tokens (the prompt must leave room for >= 1 new token)");
  PKV_CHECK(int64_t(prompt.size()) + params.max_tokens <= limits.max_model_len, InvalidArgument,
            "request: prompt (", prompt.size(), " tokens) + max_tokens (", params.max_tokens,
            ") exceeds the model's context of ", limits.max_model_len, " tokens");
}

}  // namespace pagedkv
