#pragma once
// Reads and writes of the contract's tensors shared by both kernels: a sequence's page-list entry,
// q elements, output elements (in q's dtype).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "attention/cuda/decode_kernel_args.h"

namespace pagedkv::cuda_detail {

// Sequence b's length, table offset and first slot. The kernels test all three at their early
// exit (a negative offset, which no valid table has, exits too), so the three loads go out
// together: with only the length tested, ptxas sank the other two below the exit, even as
// volatile or relaxed loads: two dependent round trips before the page ids instead of one
// (~0.5 us of every prologue on H200).
struct SeqInfo {
  int len, base, first;
  __device__ bool skip(int split, int active) const {
    return split >= active || (base | first) < 0;
  }
};
__device__ __forceinline__ SeqInfo load_seq(const KernelArgs& a, int b) {
  return {a.visible_len[b], a.indptr[b], a.first_offset[b]};
}

__device__ __forceinline__ float load_q(const void* q, int kind, int64_t i) {
  if (kind == kQBF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(q)[i]);
  if (kind == kQF16) return __half2float(static_cast<const __half*>(q)[i]);
  return static_cast<const float*>(q)[i];
}

__device__ __forceinline__ void store_out(void* out, int kind, int64_t i, float x) {
  if (kind == kQBF16)
    static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(x);
  else if (kind == kQF16)
    static_cast<__half*>(out)[i] = __float2half_rn(x);
  else
    static_cast<float*>(out)[i] = x;
}

__device__ __forceinline__ void store_out4(void* out, int kind, int64_t i, float4 x) {
  store_out(out, kind, i, x.x);
  store_out(out, kind, i + 1, x.y);
  store_out(out, kind, i + 2, x.z);
  store_out(out, kind, i + 3, x.w);
}

}  // namespace pagedkv::cuda_detail
