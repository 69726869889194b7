#pragma once
// What a sample produces, token by token: ids, text (when the engine has a tokenizer), the
// model's log-probabilities, and every stop condition — stop ids (not in the output), stop id
// sequences (removed), text stop strings (cut from the text), max_tokens. Streamed text holds
// back any tail that could still become a stop string, so a client never sees text that is
// taken back. The concatenation of a sample's deltas equals its final text.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/request.h"
#include "engine/sampler.h"
#include "tokenizer/decode_stream.h"
#include "tokenizer/tokenizer.h"

namespace pagedkv {

// What one step added to one sample (the engine's streaming output).
struct OutputDelta {
  RequestId request = -1;
  int32_t sample = 0;
  std::vector<int32_t> tokens;          // ids added to the output (0 or 1)
  std::string text;                     // text added (may be empty: held back or unfinished)
  std::vector<TokenLogprobs> logprobs;  // one per added id, when the request asked
  FinishReason finish = FinishReason::kNone;
};

class OutputState {
 public:
  // `tokenizer` may be null (ids only; a request with stop strings is then refused earlier).
  OutputState(const SamplingParams* params, const Tokenizer* tokenizer);

  // Takes the sampled token (logits: its row, for log-probabilities); returns the delta.
  OutputDelta add(int32_t token, std::span<const float> logits);
  // Ends the sample early (abort): whatever text was held back comes out.
  OutputDelta abort();

  const std::vector<int32_t>& tokens() const { return tokens_; }
  const std::string& text() const { return text_; }
  const std::vector<TokenLogprobs>& logprobs() const { return logprobs_; }
  FinishReason finish() const { return finish_; }

 private:
  // Text not yet streamed that can go now (all of it once finished).
  std::string release();

  const SamplingParams* params_;
  const Tokenizer* tokenizer_;
  std::optional<DecodeStream> stream_;
  std::vector<int32_t> tokens_;
  std::string text_;
  size_t streamed_ = 0;  // bytes of text_ already handed out
  size_t searched_ = 0;  // text_ before this cannot start a new stop-string match
  std::vector<TokenLogprobs> logprobs_;
  FinishReason finish_ = FinishReason::kNone;
};

}  // namespace pagedkv
