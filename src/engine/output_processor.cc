#include "engine/output_processor.h"

#include <algorithm>

#include "core/error.h"

namespace pagedkv {

OutputState::OutputState(const SamplingParams* params, const Tokenizer* tokenizer)
    : params_(params), tokenizer_(tokenizer) {
  if (tokenizer_) stream_.emplace(tokenizer_->decode_stream(params_->skip_special_tokens));
}

OutputDelta OutputState::add(int32_t token, std::span<const float> logits) {
  PKV_CHECK(finish_ == FinishReason::kNone, Internal, "output: a token after the sample finished");
  OutputDelta d;
  const SamplingParams& p = *params_;
  tokens_.push_back(token);
  const size_t before = tokens_.size();
  finish_ = check_stop(p, tokens_);  // drops a stop token / a stop sequence's ids
  if (tokens_.size() == before) {    // the token stays: its log-probabilities and its text
    d.tokens.push_back(token);
    if (p.logprobs > 0) {
      logprobs_.push_back(token_logprobs(logits, token, p.logprobs));
      d.logprobs.push_back(logprobs_.back());
    }
    if (stream_) text_ += stream_->step(token);
  } else if (finish_ == FinishReason::kStopSequence && tokenizer_) {
    text_ = tokenizer_->decode(tokens_, p.skip_special_tokens);  // the sequence's text goes too
    streamed_ = std::min(streamed_, text_.size());
    logprobs_.resize(std::min(logprobs_.size(), tokens_.size()));
  }
  if (stream_ && finish_ != FinishReason::kNone && finish_ != FinishReason::kStopSequence)
    text_ += stream_->finish();
  // Text stop strings: the earliest match wins; the match and everything after it go.
  for (const std::string& s : p.stop) {
    const size_t from = searched_ > s.size() ? searched_ - s.size() + 1 : 0;
    const size_t at = text_.find(s, from);
    if (at != std::string::npos) {
      text_.resize(at);
      finish_ = FinishReason::kStopString;
    }
  }
  searched_ = text_.size();
  d.text = release();
  d.finish = finish_;
  return d;
}

OutputDelta OutputState::abort() {
  OutputDelta d;
  if (finish_ == FinishReason::kNone) {
    finish_ = FinishReason::kAbort;
    if (stream_) text_ += stream_->finish();
  }
  d.text = release();
  d.finish = finish_;
  return d;
}

std::string OutputState::release() {
  streamed_ = std::min(streamed_, text_.size());
  size_t end = text_.size();
  if (finish_ == FinishReason::kNone) {
    // Hold back the longest tail that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const std::string& s : params_->stop)
      for (size_t n = std::min(s.size() - 1, text_.size() - streamed_); n > hold; --n)
        if (text_.compare(text_.size() - n, n, s, 0, n) == 0) {
          hold = n;
          break;
        }
    end -= hold;
  }
  std::string out = text_.substr(streamed_, end - streamed_);
  streamed_ = end;
  return out;
}

}  // namespace pagedkv
