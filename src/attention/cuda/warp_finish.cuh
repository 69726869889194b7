#pragma once
// The end of a head-parallel warp (tensor-core kernel): write the output or this slice's partial;
// the last slice to finish merges all slices.

#include <cstdint>

#include "attention/cuda/decode_io.cuh"
#include "attention/cuda/decode_kernel_args.h"
#include "attention/cuda/mma_fragments.cuh"
#include "attention/cuda/split_merge.cuh"

namespace pagedkv::cuda_detail {

// Per-warp end of the head-parallel variant: each warp owns its (kv head, head group) for the
// whole slice, so no CTA merge; the last slice's warp merges the slices (as finish_cta does).
template <int D, int GP, bool kFp8>
__device__ __forceinline__ void finish_warp(const KernelArgs& a, const float (&o)[D / 8][4],
                                            float m, float l, int split, int active, int unit,
                                            int kvh, int b, int head0, int nheads, float* sw) {
  const int lane = threadIdx.x % 32;
  const int qrow = lane / 4, qk = (lane % 4) * 2;
  const float vs = a.v_head_scale ? a.v_head_scale[kvh] : a.v_scale;
  const int64_t bh = int64_t(b) * a.num_q_heads + head0 + qrow;
  if (active == 1) {
    if (qrow < nheads) {
      const float sink = a.sinks ? exp2f(a.sinks[head0 + qrow] * kLog2e - m) : 0.f;
      const float den = l + sink;
      const float f = vs / den;  // one division per lane, not one per element
#pragma unroll
      for (int nt = 0; nt < D / 8; ++nt) {
        store_out(a.out, a.q_kind, bh * D + out_dim<kFp8>(nt, 0, lane % 4), o[nt][0] * f);
        store_out(a.out, a.q_kind, bh * D + out_dim<kFp8>(nt, 1, lane % 4), o[nt][1] * f);
      }
      if (qk == 0 && a.lse) a.lse[bh] = (m + log2f(den)) * kLn2;
    }
    return;
  }
  if (qrow < nheads) {
    float* po = a.part_o + (bh * a.num_splits + split) * D;
    const float f = vs / l;
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt)
      if constexpr (kFp8) {
        po[out_dim<kFp8>(nt, 0, lane % 4)] = o[nt][0] * f;
        po[out_dim<kFp8>(nt, 1, lane % 4)] = o[nt][1] * f;
      } else {
        *reinterpret_cast<float2*>(po + nt * 8 + qk) = make_float2(o[nt][0] * f, o[nt][1] * f);
      }
    if (qk == 0) a.part_lse[bh * a.num_splits + split] = m + log2f(l);
  }
  __threadfence();
  __syncwarp();
  int last = 0;
  if (lane == 0) {
    int32_t* counter = a.counters + int64_t(b) * a.num_kv_heads * a.head_groups + unit;
    last = atomicAdd(counter, 1) == active - 1;
    if (last) *counter = 0;
  }
  last = __shfl_sync(0xffffffffu, last, 0);
  if (!last) return;
  __threadfence();
  // The warp's ring is idle now (every cp.async has landed): it holds the merge weights.
  for (int g = 0; g < nheads; ++g) {
    const int64_t bhg = int64_t(b) * a.num_q_heads + head0 + g;
    float lv[4];
    load_lse(a.part_lse + bhg * a.num_splits, active, lv);
    const float ls =
        slice_weights(lv, active, a.sinks ? a.sinks[head0 + g] * kLog2e : -INFINITY, sw);
    for (int d4 = lane; d4 < D / 4; d4 += 32) {
      float4 acc[1];
      sum_slices<D>(a.part_o + bhg * a.num_splits * D + d4 * 4, sw, active, acc);
      store_out4(a.out, a.q_kind, bhg * D + d4 * 4, acc[0]);
    }
    if (lane == 0 && a.lse) a.lse[bhg] = ls * kLn2;
    __syncwarp();  // sw is rewritten for the next head
  }
}

}  // namespace pagedkv::cuda_detail
