#pragma once
// The loaded components of a Tokenizer (internal; shared by Tokenizer and DecodeStream).

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"

namespace pagedkv {

struct TokenizerImpl {
  AddedVocabulary added;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;

  // Token strings of ids (added tokens first, then the model), skipping unknown ids and, if asked,
  // special tokens; then the decoder.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;
};

}  // namespace pagedkv
