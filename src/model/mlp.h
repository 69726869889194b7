#pragma once
// Gated MLPs: down(act(gate(x)) * up(x)). SwiGLU (silu: Llama, Qwen, Llama 4) and GeGLU with
// the tanh-approximated GELU (Gemma 3's gelu_pytorch_tanh).

#include <cstdint>

#include "model/linear.h"
#include "model/model_config.h"

namespace pagedkv {

float activate(Activation act, float x);

struct GatedMlp {
  Linear gate, up, down;  // gate/up [I, H], down [H, I]
  Activation act = Activation::kSilu;

  // y [rows, H] = mlp(x [rows, H]). y must not alias x.
  void forward(const float* x, int64_t rows, float* y) const;
};

}  // namespace pagedkv
