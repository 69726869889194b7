#include "tokenizer/decode_stream.h"

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

namespace pagedkv {

DecodeStream::DecodeStream(const Tokenizer& tokenizer, bool skip_special_tokens)
    : impl_(tokenizer.impl_), skip_special_(skip_special_tokens) {}

bool DecodeStream::ends_in_byte_piece() const {
  // The last token that reaches the decoder: skipped special tokens and unknown ids are
  // transparent (a byte run continues across them, as in decode()).
  for (size_t i = window_.size(); i-- > 0;) {
    const int32_t id = window_[i];
    if (const AddedToken* a = impl_->added.find(id)) {
      if (skip_special_ && a->special) continue;
      return false;
    }
    if (id < 0 || static_cast<size_t>(id) >= impl_->model->vocab_size() ||
        impl_->model->token(id).empty()) {
      continue;
    }
    return fallback_byte(impl_->model->token(id)) >= 0;
  }
  return false;
}

std::string DecodeStream::step(int32_t id) {
  window_.push_back(id);
  std::string text = impl_->decode(window_, skip_special_);
  if (text.ends_with("\xEF\xBF\xBD")) return "";  // maybe an unfinished character: wait
  if (impl_->decoder && impl_->decoder->joins_byte_runs() && ends_in_byte_piece()) return "";
  PKV_CHECK(text.starts_with(context_text_), Internal,
            "DecodeStream: window text does not extend its context");
  std::string out = text.substr(context_text_.size());
  // The last id becomes the context of the next window.
  window_.assign(1, id);
  has_context_ = true;
  context_text_ = impl_->decode(window_, skip_special_);
  return out;
}

std::string DecodeStream::finish() {
  std::string out;
  if (window_.size() > (has_context_ ? 1u : 0u)) {
    std::string text = impl_->decode(window_, skip_special_);
    PKV_CHECK(text.starts_with(context_text_), Internal,
              "DecodeStream: window text does not extend its context");
    out = text.substr(context_text_.size());
  }
  window_.clear();
  has_context_ = false;
  context_text_.clear();
  return out;
}

}  // namespace pagedkv
