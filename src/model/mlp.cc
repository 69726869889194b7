#include "model/mlp.h"

#include <cmath>
#include <vector>

namespace pagedkv {

float activate(Activation act, float x) {
  if (act == Activation::kSilu) return x / (1.0f + std::exp(-x));
  // gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const float k = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

void GatedMlp::forward(const float* x, int64_t rows, float* y) const {
  const int64_t inter = gate.out;
  std::vector<float> g(rows * inter), u(rows * inter);  // [rows, I] each
  gate.forward(x, rows, g.data());
  up.forward(x, rows, u.data());
  for (int64_t i = 0; i < rows * inter; ++i) g[i] = activate(act, g[i]) * u[i];
  down.forward(g.data(), rows, y);
}

}  // namespace pagedkv
