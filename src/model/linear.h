#pragma once
// Dense layers: y[T, out] = x[T, in] · W[out, in]^T (+ b), W as HF stores it (nn.Linear,
// row-major [out, in]), f32 (bf16/f16 checkpoints are upcast once at load). Each output row is
// computed the same way whatever the row count (linear.cc says why that rules out BLAS).

#include <cstdint>
#include <vector>

namespace pagedkv {

struct Linear {
  int64_t in = 0, out = 0;
  std::vector<float> weight;  // [out, in]
  std::vector<float> bias;    // [out] or empty

  // y [rows, out] = x [rows, in] · W^T + b: rows * in * out FMAs.
  void forward(const float* x, int64_t rows, float* y) const;
};

// y [rows, n] = x [rows, k] · w [k, n] (weights stored input-major, as Llama 4's experts).
void matmul_kn(const float* x, int64_t rows, int64_t k, const float* w, int64_t n, float* y);

}  // namespace pagedkv
