#pragma once
// Small-M matrix products for decode at small batch: y [M, N] = x [M, K] · w[N, K]ᵀ (bf16 x and
// w, f32 accumulation, bf16 or f32 y) for 1 <= M <= kGemvMaxRows. At M = 1 a decode step is
// weight streaming: every byte of w is read once, so the product can run at HBM bandwidth only if
// enough loads are in flight. One warp owns an output column, keeps four 16-byte loads of w in
// flight per lane (streamed past L1 and L2 with __ldcs: read once) and reads x's M rows through
// L1 (every warp of a CTA reads the same x). Gemm::linear routes small M here when asked
// (Gemm::set_small_m_rows); bench/gemv_playground.cu times it against cuBLASLt.

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace pagedkv::cuda {

inline constexpr int64_t kGemvMaxRows = 8;

// Whether gemv takes the product: 1 <= M <= kGemvMaxRows, K % 8 == 0 (16-byte chunks of 8 bf16),
// x and w 16-byte aligned.
bool gemv_takes(int64_t M, int64_t K, const void* x, const void* w);

// y = x · wᵀ; Error(InvalidArgument) when gemv_takes is false or y_dtype is not bf16 / f32.
// Async on `stream`; each output element's sum runs in the same order whatever M is.
// `programmatic`: launched with programmatic dependent launch (core/cuda/pdl.cuh), so that its
// first weight loads overlap the end of the kernel before it; the result is the same.
void gemv(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N, int64_t K,
          cudaStream_t stream, bool programmatic = false);

}  // namespace pagedkv::cuda
