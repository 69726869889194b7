#pragma once
// The small-M GEMV kernel (gemv.h says what it is for and why it is shaped so); gemv.cu launches
// it, dev/cuda_emu runs this same source on the host emulator.

#include <cuda_bf16.h>

#include <cstdint>

#include "core/cuda/pdl.cuh"

namespace pagedkv::cuda::gemv_detail {

constexpr int kWarps = 8;     // output columns per CTA (one per warp)
constexpr int kInFlight = 4;  // 16-byte loads of w in flight per lane (the product's choice)

__device__ inline void store(__nv_bfloat16* y, float v) { *y = __float2bfloat16(v); }
__device__ inline void store(float* y, float v) { *y = v; }

// bf16 -> f32 is exact: the bf16 bits are the f32's upper half. Two per 32-bit word, unpacked
// with integer ops (no type punning of the loaded vectors).
__device__ inline float bf16_lo(uint32_t u) { return __uint_as_float(u << 16); }
__device__ inline float bf16_hi(uint32_t u) { return __uint_as_float(u & 0xffff0000u); }

// acc + the dot product of 8 bf16 pairs (16 bytes of w, 16 of x), summed in index order.
__device__ inline float dot8(const uint4& w, const uint4& x, float acc) {
  const uint32_t ww[4] = {w.x, w.y, w.z, w.w}, xw[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    acc = fmaf(bf16_lo(ww[j]), bf16_lo(xw[j]), acc);
    acc = fmaf(bf16_hi(ww[j]), bf16_hi(xw[j]), acc);
  }
  return acc;
}

// One warp per output column n: each lane streams 16-byte chunks of w's row n (kInFlight loads
// in flight), multiplies each by the same chunk of the M rows of x, and the warp reduces. A
// lane's chunks and the reduction's order do not depend on M, so a row's result is the same in
// any batch the kernel takes. The first loads of w are issued before pdl_wait(): launched with
// programmatic dependent launch (gemv.h), they overlap the end of the kernel that makes x; past
// the wait it lets its own dependent launch, which then overlaps this kernel's streaming.
template <int M, typename Y, int InFlight = kInFlight>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_kernel(const uint4* __restrict__ x, const uint4* __restrict__ w, Y* __restrict__ y,
                int64_t N, int64_t K) {
  const int lane = threadIdx.x % 32;
  const int64_t n = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (n >= N) return;            // the whole warp: no shuffle below waits on it
  const int64_t chunks = K / 8;  // 16-byte chunks per row
  const uint4* wr = w + n * chunks;
  uint4 wv[InFlight];
  const auto load = [&](int64_t c0) {
#pragma unroll
    for (int u = 0; u < InFlight; ++u) {
      const int64_t c = c0 + u * 32;
      wv[u] = c < chunks ? __ldcs(wr + c) : make_uint4(0, 0, 0, 0);  // streamed: read once
    }
  };
  load(lane);
  pdl_wait();               // x (and y's readers) belong to the kernels before this one
  pdl_launch_dependents();  // the next kernel (a norm) may load its weights while this streams
  float acc[M] = {};
  for (int64_t c0 = lane; c0 < chunks; c0 += 32 * InFlight) {
#pragma unroll
    for (int u = 0; u < InFlight; ++u) {
      const int64_t c = c0 + u * 32;
      if (c >= chunks) break;
#pragma unroll
      for (int m = 0; m < M; ++m) acc[m] = dot8(wv[u], __ldg(x + m * chunks + c), acc[m]);
    }
    if (c0 + 32 * InFlight < chunks) load(c0 + 32 * InFlight);
  }
#pragma unroll
  for (int m = 0; m < M; ++m) {
    float v = acc[m];
#pragma unroll
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) store(y + m * N + n, v);
  }
}

}  // namespace pagedkv::cuda::gemv_detail
