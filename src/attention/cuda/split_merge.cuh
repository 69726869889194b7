#pragma once
// Merging softmax partials (log2 domain): the weights of a head's split-KV slices from their lse,
// and the weighted sum of their partial outputs. Deterministic: fixed-order reductions.

#include <cstdint>

#include "attention/cuda/decode_kernel_args.h"

namespace pagedkv::cuda_detail {

// exp2 that maps a -inf exponent (an empty partial) to 0 without NaN from -inf - -inf.
__device__ __forceinline__ float weight2(float m, float ref) {
  return m == -INFINITY ? 0.f : exp2f(m - ref);
}

// Merge weights of one head's slices, called by a whole warp, in two steps so that a warp can
// have several heads' loads in flight at once. load_lse reads the `active` partial lse values
// (log2 units; <= 128 of them, one load per lane per 32: one round trip); slice_weights writes
// each slice's weight exp2(lse - max) / den to w[0, active) and returns the merged lse (log2).
// `sink2` is the head's sink logit in log2 units, -inf for none.
__device__ __forceinline__ void load_lse(const float* lse, int active, float (&lv)[4]) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int sp = lane + 32 * k;
    lv[k] = sp < active ? __ldcg(lse + sp) : -INFINITY;
  }
}
__device__ __forceinline__ float slice_weights(float (&lv)[4], int active, float sink2, float* w) {
  const int lane = threadIdx.x % 32;
  float mx = -INFINITY;
#pragma unroll
  for (int k = 0; k < 4; ++k) mx = fmaxf(mx, lv[k]);
#pragma unroll
  for (int off = 16; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    lv[k] = weight2(lv[k], mx);
    sum += lv[k];
  }
  // Fixed-order butterfly: deterministic whichever CTA merges.
#pragma unroll
  for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  const float den = sum + weight2(sink2, mx);
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int sp = lane + 32 * k;
    if (sp < active) w[sp] = lv[k] / den;
  }
  __syncwarp();
  return mx + log2f(den);
}

// sum over sp < active of w[sp] * po[sp * D + 0 .. 4 * NV - 1]: the slices' partial outputs,
// read in batches of 16 slices x NV independent 16-byte loads: a batch costs one L2 round trip
// (one dependent load per slice cost up to 8 x 15 round trips, 4% of the time at 32/8 B=16
// L=4k). NV = 2 lets one pass of a CTA's threads cover 8 heads x 128 dims (two passes, two
// round trips, cost ~1 us at 64/8 B=1 L=16k).
template <int D, int NV = 1>
__device__ __forceinline__ void sum_slices(const float* po, const float* w, int active,
                                           float4 (&acc)[NV]) {
  constexpr int kBatch = 16;
#pragma unroll
  for (int n = 0; n < NV; ++n) acc[n] = make_float4(0.f, 0.f, 0.f, 0.f);
  for (int sp = 0; sp < active; sp += kBatch) {
    float4 v[kBatch][NV];
#pragma unroll
    for (int u = 0; u < kBatch; ++u)
#pragma unroll
      for (int n = 0; n < NV; ++n)
        v[u][n] = sp + u < active
                      ? __ldcg(reinterpret_cast<const float4*>(po + int64_t(sp + u) * D + 4 * n))
                      : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (sp + u < active) {
        const float wu = w[sp + u];
#pragma unroll
        for (int n = 0; n < NV; ++n) {
          acc[n].x = fmaf(wu, v[u][n].x, acc[n].x);
          acc[n].y = fmaf(wu, v[u][n].y, acc[n].y);
          acc[n].z = fmaf(wu, v[u][n].z, acc[n].z);
          acc[n].w = fmaf(wu, v[u][n].w, acc[n].w);
        }
      }
    }
  }
}

}  // namespace pagedkv::cuda_detail
