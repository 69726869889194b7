#pragma once
// The fused paged decode kernel (see paged_decode_cuda.h for the algorithm's outline).
//
// Work of one CTA (128 threads = 4 warps): sequence b, kv head kvh, query heads
// [head0, head0 + GP) of its group, tokens [start, end) of the sequence's visible range.
// Each warp streams its own tiles (warp w takes tiles w, w+4, ...) through a private
// kStages-deep cp.async ring in shared memory: no CTA-wide barrier inside the loop, and the bytes
// in flight (kStages-1 tiles per warp) cost no registers. A lane consumes 8 elements of a row;
// kLanesPerRow lanes cover one row, so one warp instruction covers kRowsPerInstr rows.
// Softmax is online in the log2 domain (q is pre-multiplied by scale * log2(e)).

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

#include "attention/cuda/cp_async.cuh"
#include "attention/cuda/cta_finish.cuh"
#include "attention/cuda/decode_io.cuh"
#include "attention/cuda/decode_kernel_args.h"

namespace pagedkv::cuda_detail {

template <int D, KvKind KV>
struct Cfg {
  static constexpr int kEs = KV == KvKind::kFP8 ? 1 : 2;   // bytes per stored element
  static constexpr int kLanesPerRow = D / 8;               // 8, 16 or 32
  static constexpr int kRowsPerInstr = 32 / kLanesPerRow;  // 4, 2 or 1
  static constexpr int kRowsPerLane = 4;
  static constexpr int kTileRows = kRowsPerInstr * kRowsPerLane;  // rows per warp tile
  static constexpr int kRowBytes = D * kEs;
  static constexpr int kChunkElems = 16 / kEs;  // elements per 16-byte copy
  static constexpr int kChunksPerRow = D / kChunkElems;
  static constexpr int kChunksPerLane = kTileRows * kChunksPerRow / 32;  // per K (and per V) tile
  static constexpr int kStageBytes = 2 * kTileRows * kRowBytes;          // K rows, then V rows
  static constexpr int kStages = kEs == 2 ? 4 : 8;
  static constexpr int kSmemBytes = kWarps * kStages * kStageBytes;  // 64 KB
  static_assert(kTileRows * kChunksPerRow % 32 == 0, "tile must split evenly over a warp");
};

// 8 stored elements (16 or 8 bytes of shared memory) -> 8 floats.
template <KvKind KV>
__device__ __forceinline__ void load8(const uint8_t* p, float (&x)[8]) {
  if constexpr (KV == KvKind::kFP8) {
    const uint2 raw = *reinterpret_cast<const uint2*>(p);
    const uint32_t w[2] = {raw.x, raw.y};
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const __half2_raw lo =
          __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(w[i] & 0xffffu), __NV_E4M3);
      const __half2_raw hi =
          __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(w[i] >> 16), __NV_E4M3);
      const float2 a = __half22float2(__half2(lo));
      const float2 b = __half22float2(__half2(hi));
      x[4 * i + 0] = a.x;
      x[4 * i + 1] = a.y;
      x[4 * i + 2] = b.x;
      x[4 * i + 3] = b.y;
    }
  } else {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if constexpr (KV == KvKind::kBF16) {
        x[2 * i] = __uint_as_float(w[i] << 16);
        x[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
      } else {
        __half2_raw h;
        h.x = static_cast<unsigned short>(w[i] & 0xffffu);
        h.y = static_cast<unsigned short>(w[i] >> 16);
        const float2 f = __half22float2(__half2(h));
        x[2 * i] = f.x;
        x[2 * i + 1] = f.y;
      }
    }
  }
}

template <int D, KvKind KV, int GP>
__global__ void __launch_bounds__(kThreads, GP >= 8 ? 2 : 3)
    paged_decode_kernel(const KernelArgs a) {
  using C = Cfg<D, KV>;
  constexpr int LPR = C::kLanesPerRow;
  constexpr int RPI = C::kRowsPerInstr;
  constexpr int RL = C::kRowsPerLane;
  constexpr int TR = C::kTileRows;
  constexpr int S = C::kStages;
  extern __shared__ __align__(16) uint8_t smem[];

  const int split = blockIdx.x;
  const int kvh = blockIdx.y / a.head_groups;
  const int hg = blockIdx.y % a.head_groups;
  const int b = blockIdx.z;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;

  // This sequence's slice: the sequence is cut into <= num_splits slices of whole CTA tiles.
  const SeqInfo seq = load_seq(a, b);
  const int len = seq.len;
  int per = (len + a.num_splits - 1) / a.num_splits;
  per = (per + kWarps * TR - 1) / (kWarps * TR) * (kWarps * TR);
  const int active = (len + per - 1) / per;
  if (seq.skip(split, active)) return;
  const int start = split * per;
  const int end = min(len, start + per);
  const int32_t* pages = a.indices + seq.base;
  const int first = seq.first;
  const int head0 = kvh * a.group + hg * GP;
  const int nheads = min(GP, a.group - hg * GP);

  // q slice of this lane, pre-scaled: k_scale folds into q, log2(e) too unless softcap needs
  // the natural-unit logit first.
  const int col = (lane % LPR) * 8;
  const float ks = a.k_head_scale ? a.k_head_scale[kvh] : a.k_scale;
  const float qmul = a.scale * ks * (a.softcap > 0.f ? 1.f : kLog2e);
  float q[GP][8];
#pragma unroll
  for (int g = 0; g < GP; ++g)
#pragma unroll
    for (int e = 0; e < 8; ++e)
      q[g][e] = g < nheads ? qmul * load_q(a.q, a.q_kind,
                                           (int64_t(b) * a.num_q_heads + head0 + g) * D + col + e)
                           : 0.f;

  float m[GP], l[GP], acc[GP][8];
#pragma unroll
  for (int g = 0; g < GP; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[g][e] = 0.f;
  }

  const int tiles = (end - start + TR - 1) / TR;
  const int my_tiles = tiles > warp ? (tiles - warp + kWarps - 1) / kWarps : 0;
  uint8_t* ring = smem + warp * S * C::kStageBytes;
  const int mask = (1 << a.block_shift) - 1;
  const int64_t head_off = int64_t(kvh) * a.stride_head;

  // Page ids of this lane's rows for the next tile to issue, loaded one tile ahead.
  int pg[C::kChunksPerLane];
  auto load_pages = [&](int i) {
    const int row0 = start + (warp + kWarps * i) * TR;
#pragma unroll
    for (int j = 0; j < C::kChunksPerLane; ++j) {
      const int tok = row0 + (lane + 32 * j) / C::kChunksPerRow;
      pg[j] = (i < my_tiles && tok < end) ? __ldg(pages + ((first + tok) >> a.block_shift)) : 0;
    }
  };
  auto issue = [&](int i) {
    uint8_t* st = ring + (i % S) * C::kStageBytes;
    const int row0 = start + (warp + kWarps * i) * TR;
#pragma unroll
    for (int j = 0; j < C::kChunksPerLane; ++j) {
      const int c = lane + 32 * j;
      const int r = c / C::kChunksPerRow;
      const int cc = c % C::kChunksPerRow;
      const int tok = row0 + r;
      const bool ok = tok < end;
      const int64_t off =
          (int64_t(pg[j]) * a.stride_block + int64_t((first + tok) & mask) * a.stride_token +
           head_off + cc * C::kChunkElems) *
          C::kEs;
      uint8_t* dk = st + r * C::kRowBytes + cc * 16;
      cp_async16(dk, ok ? a.k + off : a.k, ok ? 16 : 0);
      cp_async16(dk + TR * C::kRowBytes, ok ? a.v + off : a.v, ok ? 16 : 0);
    }
  };

  load_pages(0);
#pragma unroll
  for (int i = 0; i < S - 1; ++i) {
    if (i < my_tiles) {
      issue(i);
      load_pages(i + 1);
    }
    cp_async_commit();
  }

  for (int i = 0; i < my_tiles; ++i) {
    if (i + S - 1 < my_tiles) {
      issue(i + S - 1);
      load_pages(i + S);
    }
    cp_async_commit();
    cp_async_wait<S - 1>();
    __syncwarp();

    const uint8_t* sk = ring + (i % S) * C::kStageBytes;
    const uint8_t* sv = sk + TR * C::kRowBytes;
    const int row0 = start + (warp + kWarps * i) * TR;

    float s[RL][GP];
#pragma unroll
    for (int r = 0; r < RL; ++r) {
      const int row = r * RPI + lane / LPR;
      float kx[8];
      load8<KV>(sk + row * C::kRowBytes + col * C::kEs, kx);
#pragma unroll
      for (int g = 0; g < GP; ++g) {
        float d = 0.f;
#pragma unroll
        for (int e = 0; e < 8; ++e) d = fmaf(q[g][e], kx[e], d);
        s[r][g] = d;
      }
#pragma unroll
      for (int off = 1; off < LPR; off *= 2)
#pragma unroll
        for (int g = 0; g < GP; ++g) s[r][g] += __shfl_xor_sync(0xffffffffu, s[r][g], off);
      const bool ok = row0 + row < end;
#pragma unroll
      for (int g = 0; g < GP; ++g) {
        float x = s[r][g];
        if (a.softcap > 0.f) x = a.softcap * tanhf(x / a.softcap) * kLog2e;
        s[r][g] = ok ? x : -INFINITY;
      }
    }

#pragma unroll
    for (int g = 0; g < GP; ++g) {
      float mt = s[0][g];
#pragma unroll
      for (int r = 1; r < RL; ++r) mt = fmaxf(mt, s[r][g]);
#pragma unroll
      for (int off = LPR; off < 32; off *= 2) mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, off));
      const float mn = fmaxf(m[g], mt);  // finite: row 0 of every issued tile is visible
      const float alpha = exp2f(m[g] - mn);
      m[g] = mn;
      float ps = 0.f;
#pragma unroll
      for (int r = 0; r < RL; ++r) {
        s[r][g] = exp2f(s[r][g] - mn);
        ps += s[r][g];
      }
      l[g] = l[g] * alpha + ps;
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[g][e] *= alpha;
    }

#pragma unroll
    for (int r = 0; r < RL; ++r) {
      const int row = r * RPI + lane / LPR;
      float vx[8];
      load8<KV>(sv + row * C::kRowBytes + col * C::kEs, vx);
#pragma unroll
      for (int g = 0; g < GP; ++g)
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] = fmaf(s[r][g], vx[e], acc[g][e]);
    }
    __syncwarp();
  }
  cp_async_wait<0>();

  // Lane groups of a warp hold disjoint rows: sum them (m is already warp-uniform).
#pragma unroll
  for (int off = LPR; off < 32; off *= 2)
#pragma unroll
    for (int g = 0; g < GP; ++g) {
      l[g] += __shfl_xor_sync(0xffffffffu, l[g], off);
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[g][e] += __shfl_xor_sync(0xffffffffu, acc[g][e], off);
    }

  // Merge the 4 warps through shared memory (the ring is free once every warp is done).
  __syncthreads();
  float* wacc = reinterpret_cast<float*>(smem);  // [kWarps, GP, D]
  float* wm = wacc + kWarps * GP * D;            // [kWarps, GP]
  float* wl = wm + kWarps * GP;                  // [kWarps, GP]
  if (lane < LPR) {
#pragma unroll
    for (int g = 0; g < GP; ++g)
#pragma unroll
      for (int e = 0; e < 8; ++e) wacc[(warp * GP + g) * D + col + e] = acc[g][e];
  }
  if (lane == 0) {
#pragma unroll
    for (int g = 0; g < GP; ++g) {
      wm[warp * GP + g] = m[g];
      wl[warp * GP + g] = l[g];
    }
  }
  __syncthreads();

  finish_cta<D, GP>(a, smem, split, active, kvh, hg, b, head0, nheads);
}

}  // namespace pagedkv::cuda_detail
