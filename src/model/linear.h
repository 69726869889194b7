#pragma once
// Dense layers: y[T, out] = x[T, in] · W[out, in]^T (+ b). Activations f32; W packed for the
// kernel (packed_matrix.h) in the checkpoint's precision, f32 or bf16 (widened in registers, so a
// bf16 checkpoint computes exactly what it computed when it was widened at load).
//
// Every output element is one FMA chain over `in` in index order, whatever the row count, the
// thread count or the SIMD width: a row's result never depends on the rows beside it (linear.cc
// says why that rules out BLAS). Work is split over all threads of ThreadPool::global() by
// 64-column panels; dispatch picks the best SIMD target of the CPU at run time (Highway).

#include <cstdint>
#include <vector>

#include "model/packed_matrix.h"

namespace pagedkv {

struct Linear {
  int64_t in = 0, out = 0;
  SharedMatrix weight;      // [out, in]
  std::vector<float> bias;  // [out] or empty

  static Linear from_f32(const std::vector<float>& w, int64_t out, int64_t in,
                         std::vector<float> bias = {});
  static Linear from_bf16(const std::vector<uint16_t>& w, int64_t out, int64_t in,
                          std::vector<float> bias = {});

  // y [rows, out] = x [rows, in] · W^T + b: rows * in * out FMAs.
  void forward(const float* x, int64_t rows, float* y) const;
};

// y [rows, n] = x [rows, k] · W^T for a packed W [n, k] (no bias).
void matmul(const float* x, int64_t rows, const PackedMatrix& w, float* y);

// The SIMD target dispatch chose on this CPU ("AVX3_SPR", "AVX2", ...), for benchmark reports.
const char* linear_simd_target();

}  // namespace pagedkv
