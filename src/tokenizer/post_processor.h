#pragma once
// The "post_processor" of a tokenizer.json, for single sequences: TemplateProcessing (e.g.
// "<|begin_of_text|> $A"), ByteLevel (offsets only: no change to ids) and Sequence of those.
// Applied only when encode() is asked to add special tokens.

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <vector>

namespace pagedkv {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<int32_t>& ids) const = 0;
  // Ids added before / after the sequence (for callers that need to know, e.g. the BOS id).
  virtual std::vector<int32_t> prefix_ids() const { return {}; }
};

std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& spec);

}  // namespace pagedkv
