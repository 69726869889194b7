#pragma once
// How many KV blocks a pool gets. On a device, like vLLM: after the weights (already loaded) and
// the activations of the largest step, the pool takes what is left of `fraction` of the device's
// memory, so a server uses the card it runs on; the figures are reported for the user to see.
// On the host the caller sizes the pool from the tokens it needs.

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "engine/model_runner.h"

namespace pagedkv {

// Bytes one block id costs: K and V of every layer, summed over the layer groups (each group has
// its own pool of the same number of blocks).
int64_t kv_bytes_per_block(const ModelRunner& model, int32_t block_size, DType dtype);

struct KvBudget {
  int32_t num_blocks = 0;  // per layer group
  int64_t bytes = 0;       // the pool's device bytes, all groups
  std::string summary;     // one line: blocks, tokens, GiB and where they came from (callers
                           // print it after "KV cache: ")
};

// nullopt for a host runner. InvalidArgument when fraction is outside (0, 1] or leaves no room
// for two blocks (naming the figures).
std::optional<KvBudget> device_kv_budget(const ModelRunner& model, double fraction,
                                         int32_t block_size, DType dtype,
                                         int64_t max_batched_tokens);

}  // namespace pagedkv
