#include "engine/sequence.h"

#include <utility>

namespace pagedkv {

Sequence::Sequence(SeqId id_, RequestId request_, int64_t arrival_, int32_t sample_,
                   const SamplingParams* params_, std::vector<int32_t> tokens_,
                   const Tokenizer* tokenizer)
    : id(id_),
      request(request_),
      arrival(arrival_),
      sample(sample_),
      params(params_),
      tokens(std::move(tokens_)),
      prompt_len(int64_t(tokens.size())),
      out(params_, tokenizer),
      rng(params_->seed + uint64_t(sample_)) {}

}  // namespace pagedkv
