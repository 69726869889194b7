#include "engine/kv_budget.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace pagedkv {

int64_t kv_bytes_per_block(const ModelRunner& model, int32_t block_size, DType dtype) {
  int64_t per_block = 0;
  for (const auto& g : model.kv_cache_config(1, block_size, dtype).groups)
    per_block +=
        2 * g.geometry.block_elems() * int64_t(dtype_size(dtype)) * int64_t(g.spec.layers.size());
  PKV_CHECK(per_block > 0, Internal, "the model reports no KV cache layers");
  return per_block;
}

std::optional<KvBudget> device_kv_budget(const ModelRunner& model, double fraction,
                                         int32_t block_size, DType dtype,
                                         int64_t max_batched_tokens) {
  PKV_CHECK(fraction > 0 && fraction <= 1, InvalidArgument,
            "--gpu-memory-fraction must be in (0, 1], got ", fraction);
  const auto mem = model.device_memory(max_batched_tokens);
  if (!mem) return std::nullopt;
  const int64_t in_use = mem->total_bytes - mem->free_bytes;
  const int64_t room =
      int64_t(fraction * double(mem->total_bytes)) - in_use - mem->activation_bytes;
  const int64_t per_block = kv_bytes_per_block(model, block_size, dtype);
  const double gib = double(int64_t(1) << 30);
  const auto num = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", x);
    return std::string(b);
  };
  PKV_CHECK(room >= 2 * per_block, OutOfMemory, "--gpu-memory-fraction ", fraction, " of ",
            num(double(mem->total_bytes) / gib),
            " GiB leaves no room for the KV cache: ", num(double(in_use) / gib),
            " GiB in use (weights), ", num(double(mem->activation_bytes) / gib),
            " GiB for activations");
  KvBudget b;
  b.num_blocks = int32_t(std::min<int64_t>(room / per_block, int64_t(1) << 24));
  b.bytes = int64_t(b.num_blocks) * per_block;
  b.summary = str_cat(b.num_blocks, " blocks x ", block_size,
                      " tokens = ", int64_t(b.num_blocks) * block_size, " tokens, ",
                      num(double(b.bytes) / gib), " GiB ", dtype_name(dtype), " (", num(fraction),
                      " of ", num(double(mem->total_bytes) / gib), " GiB device memory, ",
                      num(double(in_use) / gib), " GiB in use, ",
                      num(double(mem->activation_bytes) / gib), " GiB kept for activations)");
  return b;
}

}  // namespace pagedkv
