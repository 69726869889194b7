#include "model/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pagedkv {

void MoeLayer::forward(const float* x, int64_t rows, float* y) const {
  const int64_t E = num_experts, H = hidden, I = expert_dim;
  std::vector<float> logits(rows * E);  // [rows, E]
  router.forward(x, rows, logits.data());
  // score[r, e] = sigmoid(logit) for the top-k experts of token r, 0 for the others.
  std::vector<float> score(rows * E, 0.0f);  // [rows, E]
  std::vector<int64_t> order(E);
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits.data() + r * E;
    std::iota(order.begin(), order.end(), 0);
    // Largest first; ties to the lower index (torch.topk's CPU order in practice).
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return l[a] > l[b]; });
    for (int64_t k = 0; k < top_k; ++k) {
      const int64_t e = order[k];
      score[r * E + e] = 1.0f / (1.0f + std::exp(-l[e]));
    }
  }
  std::vector<float> routed(rows * H, 0.0f);  // [rows, H]: sum over experts in index order
  std::vector<float> in, gu, h, out;
  std::vector<int64_t> members;
  for (int64_t e = 0; e < E; ++e) {
    members.clear();
    for (int64_t r = 0; r < rows; ++r)
      if (score[r * E + e] != 0.0f) members.push_back(r);
    if (members.empty()) continue;  // an unpicked expert sees a zero input and adds exact zeros
    const int64_t m = int64_t(members.size());
    in.assign(m * H, 0.0f);  // [m, H] tokens scaled by their score
    for (int64_t i = 0; i < m; ++i) {
      const float s = score[members[i] * E + e];
      const float* xr = x + members[i] * H;
      for (int64_t c = 0; c < H; ++c) in[i * H + c] = xr[c] * s;
    }
    gu.resize(m * 2 * I);  // [m, 2I]
    matmul(in.data(), m, gate_up[size_t(e)], gu.data());
    h.resize(m * I);  // [m, I] = up * act(gate)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < I; ++c)
        h[i * I + c] = gu[i * 2 * I + I + c] * activate(act, gu[i * 2 * I + c]);
    out.resize(m * H);  // [m, H]
    matmul(h.data(), m, down[size_t(e)], out.data());
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < H; ++c) routed[members[i] * H + c] += out[i * H + c];
  }
  shared.forward(x, rows, y);
  for (int64_t i = 0; i < rows * H; ++i) y[i] += routed[i];
}

}  // namespace pagedkv
