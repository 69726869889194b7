#pragma once
// Llama 4's mixture of experts (HF Llama4TextMoe): the router picks the top-k experts by logit;
// each picked expert gets the token scaled by sigmoid(its logit) *before* the expert (not a
// weighted sum of outputs); the routed outputs are summed over experts in index order and added
// to the shared expert's output.

#include <cstdint>
#include <vector>

#include "model/mlp.h"

namespace pagedkv {

struct MoeLayer {
  int64_t num_experts = 0, top_k = 1, hidden = 0, expert_dim = 0;
  Linear router;                      // [E, H]
  std::vector<PackedMatrix> gate_up;  // E x [2I, H] (HF stores [H, 2I] input-major): rows
                                      // [0, I) gate, [I, 2I) up
  std::vector<PackedMatrix> down;     // E x [H, I] (HF: [I, H])
  GatedMlp shared;
  Activation act = Activation::kSilu;

  // y [rows, H] = moe(x [rows, H]). Cost: the shared expert plus top_k experts per token.
  void forward(const float* x, int64_t rows, float* y) const;
};

}  // namespace pagedkv
