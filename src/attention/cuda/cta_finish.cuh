#pragma once
// The end of a tile-parallel CTA (both kernels): merge the warps' partial softmax states, write
// the output or this slice's partial, and let the last slice to finish merge all slices.

#include <cstdint>

#include "attention/cuda/decode_io.cuh"
#include "attention/cuda/decode_kernel_args.h"
#include "attention/cuda/split_merge.cuh"

namespace pagedkv::cuda_detail {

// Shared end of both kernels. On entry (after a __syncthreads) shared memory holds each warp's
// partial softmax state: wacc [kWarps, GP, D] (unnormalised, relative to wm), wm, wl [kWarps, GP].
// Merges the warps; writes the output directly when the sequence has one slice, else writes this
// slice's partial (normalised output + log2 lse) and, if it is the last slice of its (sequence,
// kv head, head group) to finish, merges all slices in slice order (deterministic: the result
// does not depend on which CTA finished last) and resets the counter for the next run.
template <int D, int GP>
__device__ __forceinline__ void finish_cta(const KernelArgs& a, uint8_t* smem, int split,
                                           int active, int kvh, int hg, int b, int head0,
                                           int nheads) {
  float* wacc = reinterpret_cast<float*>(smem);  // [kWarps, GP, D]
  float* wm = wacc + kWarps * GP * D;            // [kWarps, GP]
  float* wl = wm + kWarps * GP;                  // [kWarps, GP]
  float* sw = wl + kWarps * GP;                  // [GP, num_splits] merge weights
  float* slse = sw + GP * a.num_splits;          // [GP] merged lse (log2)
  const bool direct = active == 1;
  // One thread per head turns the warps' (max, sum) into one factor per (warp, head), in place of
  // wm: v scale, softmax weight and normaliser together. Then every output element is a 4-term
  // dot product; computed per element (4 exp2 and a division each, GP * D / 128 times per
  // thread) this end took ~1 us more at GP = 8.
  if (threadIdx.x < nheads) {
    const int g = threadIdx.x;
    const int64_t bh = int64_t(b) * a.num_q_heads + head0 + g;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, wm[w * GP + g]);
    float wt[kWarps], lsum = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      wt[w] = weight2(wm[w * GP + g], mx);
      lsum += wl[w * GP + g] * wt[w];
    }
    float den = lsum;
    if (direct) {
      den += a.sinks ? exp2f(a.sinks[head0 + g] * kLog2e - mx) : 0.f;
      if (a.lse) a.lse[bh] = (mx + log2f(den)) * kLn2;
    } else {
      a.part_lse[bh * a.num_splits + split] = mx + log2f(lsum);
    }
    const float f = (a.v_head_scale ? a.v_head_scale[kvh] : a.v_scale) / den;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) wm[w * GP + g] = wt[w] * f;
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < nheads * D; idx += kThreads) {
    const int g = idx / D;
    const int d = idx % D;
    float o = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) o = fmaf(wacc[(w * GP + g) * D + d], wm[w * GP + g], o);
    const int64_t bh = int64_t(b) * a.num_q_heads + head0 + g;
    if (direct)
      store_out(a.out, a.q_kind, bh * D + d, o);
    else
      a.part_o[(bh * a.num_splits + split) * D + d] = o;
  }
  if (direct) return;

  __shared__ int is_last;
  __threadfence();
  __syncthreads();
  int32_t* counter = a.counters + (int64_t(b) * a.num_kv_heads + kvh) * a.head_groups + hg;
  if (threadIdx.x == 0) {
    const int done = atomicAdd(counter, 1);
    is_last = done == active - 1;
    if (is_last) *counter = 0;  // ready for the next run (graph replays reuse the workspace)
  }
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  // Weights of each slice: one warp per head, lanes over slices; a warp with two heads (GP = 8)
  // has both heads' loads in flight together (one round trip, not two).
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  constexpr int kHeadsPerWarp = (GP + kWarps - 1) / kWarps;
  float lv[kHeadsPerWarp][4];
#pragma unroll
  for (int j = 0; j < kHeadsPerWarp; ++j) {
    const int g = warp + j * kWarps;
    if (g < nheads)
      load_lse(a.part_lse + (int64_t(b) * a.num_q_heads + head0 + g) * a.num_splits, active, lv[j]);
  }
#pragma unroll
  for (int j = 0; j < kHeadsPerWarp; ++j) {
    const int g = warp + j * kWarps;
    if (g >= nheads) continue;
    const float ls = slice_weights(lv[j], active, a.sinks ? a.sinks[head0 + g] * kLog2e : -INFINITY,
                                   sw + g * a.num_splits);
    if (lane == 0) slse[g] = ls;
  }
  __syncthreads();
  // Weighted sum of the slices' outputs, 4 * NV dims per thread: one pass over the heads when
  // they have more than 128 x 4 dims in all.
  constexpr int NV = GP * D / 4 > kThreads ? 2 : 1;
  constexpr int kDims = 4 * NV;
  for (int idx = threadIdx.x; idx < nheads * (D / kDims); idx += kThreads) {
    const int g = idx / (D / kDims);
    const int d = (idx % (D / kDims)) * kDims;
    const int64_t bh = int64_t(b) * a.num_q_heads + head0 + g;
    float4 acc[NV];
    sum_slices<D, NV>(a.part_o + bh * a.num_splits * D + d, sw + g * a.num_splits, active, acc);
#pragma unroll
    for (int n = 0; n < NV; ++n) store_out4(a.out, a.q_kind, bh * D + d + 4 * n, acc[n]);
    if (d == 0 && a.lse) a.lse[bh] = slse[g] * kLn2;
  }
}

}  // namespace pagedkv::cuda_detail
