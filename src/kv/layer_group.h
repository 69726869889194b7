#pragma once
// Layer groups: the layers of a model that share one attention rule (attention_rule.h) and
// therefore one block table per sequence (../shared/DESIGN.md §3).

#include <cstdint>
#include <vector>

#include "kv/attention_rule.h"

namespace pagedkv {

// One group: its rule and the model layer ids it covers (in the order storage layers follow).
struct LayerGroupSpec {
  AttentionRule rule;
  std::vector<int32_t> layers;
};

}  // namespace pagedkv
