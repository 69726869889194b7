#pragma once
// Rotary position embeddings as HF computes them: inverse frequencies in f32 from the layer's
// RoPE config (default, linear, llama3 scaling), angles pos * inv_freq in f32, cos/sin in f32.
// Two pairings: rotate-half (Llama 3, Qwen 3, Gemma 3: element i pairs with i + D/2) and
// interleaved complex pairs (Llama 4: element 2i pairs with 2i + 1).

#include <cstdint>
#include <vector>

#include "model/model_config.h"

namespace pagedkv {

class Rope {
 public:
  Rope(const RopeConfig& config, int64_t head_dim, RopeStyle style);

  // Rotates x [num_tokens, num_heads, head_dim] in place; token t sits at positions[t].
  void apply(float* x, int64_t num_tokens, int64_t num_heads, const int64_t* positions) const;
  const std::vector<float>& inv_freq() const { return inv_freq_; }

 private:
  std::vector<float> inv_freq_;  // [head_dim / 2]
  int64_t head_dim_;
  RopeStyle style_;
};

}  // namespace pagedkv
