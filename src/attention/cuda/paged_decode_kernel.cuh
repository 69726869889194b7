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

namespace pagedkv::cuda_detail {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kWarps = 4;
// Head-parallel tensor-core CTAs hold 2 warps (2 kv heads / head groups): measured on H200
// against 4 (gpu_notes.md, run 19), +0-3% at every head-parallel point, since the planner then
// reaches one CTA per SM with fewer splits.
constexpr int kHeadsWarps = 2;
constexpr int kThreads = kWarps * 32;

enum class KvKind { kBF16, kF16, kFP8 };
enum QKind : int { kQF32 = 0, kQF16 = 1, kQBF16 = 2 };

template <int D, KvKind KV>
struct Cfg {
  static constexpr int kEs = KV == KvKind::kFP8 ? 1 : 2;    // bytes per stored element
  static constexpr int kLanesPerRow = D / 8;                  // 8, 16 or 32
  static constexpr int kRowsPerInstr = 32 / kLanesPerRow;     // 4, 2 or 1
  static constexpr int kRowsPerLane = 4;
  static constexpr int kTileRows = kRowsPerInstr * kRowsPerLane;  // rows per warp tile
  static constexpr int kRowBytes = D * kEs;
  static constexpr int kChunkElems = 16 / kEs;                // elements per 16-byte copy
  static constexpr int kChunksPerRow = D / kChunkElems;
  static constexpr int kChunksPerLane = kTileRows * kChunksPerRow / 32;  // per K (and per V) tile
  static constexpr int kStageBytes = 2 * kTileRows * kRowBytes;          // K rows, then V rows
  static constexpr int kStages = kEs == 2 ? 4 : 8;
  static constexpr int kSmemBytes = kWarps * kStages * kStageBytes;      // 64 KB
  static_assert(kTileRows * kChunksPerRow % 32 == 0, "tile must split evenly over a warp");
};

struct KernelArgs {
  const void* q;            // [B, Hq, D] in q_kind
  void* out;                // [B, Hq, D] in q_kind
  float* lse;               // [B, Hq] or null
  const uint8_t* k;         // pool, [num_blocks, block_size, Hkv, D] with the strides below
  const uint8_t* v;
  int64_t stride_block;     // elements
  int64_t stride_token;
  int64_t stride_head;
  int32_t block_shift;      // log2(block_size)
  const int32_t* indptr;    // [B + 1]
  const int32_t* indices;   // [indptr[B]]
  const int32_t* first_offset;  // [B]
  const int32_t* visible_len;   // [B]
  int32_t num_q_heads;
  int32_t num_kv_heads;
  int32_t group;            // G = Hq / Hkv
  int32_t head_groups;
  int32_t num_splits;
  int32_t q_kind;
  float scale;
  float softcap;            // 0: off
  float k_scale, v_scale;
  const float* k_head_scale;  // [Hkv] or null
  const float* v_head_scale;
  const float* sinks;       // [Hq] or null
  float* part_o;            // [B, Hq, num_splits, D] normalised partial outputs
  float* part_lse;          // [B, Hq, num_splits] log2-domain lse of each partial
  int32_t* counters;        // [B, Hkv, head_groups] CTAs done, reset by the merging CTA
};

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem),
               "r"(src_bytes));
}
// L2 policy for K/V bytes: each is read once per call, so they are the first to go when L2
// needs room, and what every call re-reads (lengths, page ids, q, split partials; in a model,
// every layer's call reads the same tables) stays resident across calls instead of being flushed
// by the stream (the pool is larger than L2). Measured on H200 (gpu_notes.md run 29): 1-4% at
// 67-268 MB (B = 1, L = 16k, 64/8: 25.2 -> 24.5 us), where the prologue's dependent loads
// (length -> page ids -> first tile) are a visible part of a call.
__device__ __forceinline__ uint64_t kv_l2_policy() {
  uint64_t p;
  asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(p));
  return p;
}
// cp_async16 with that policy, to a shared-window address. ptxas 13.0 miscompiles the hinted
// copy when it splits the destination into a uniform base plus a per-thread offset: it emits
// LDGSTS ... [R+UR0], desc[UR1] with UR0 / UR1 never written (illegal instruction on H200, run
// 29; it did so for whichever kernels' destinations it folded that way). Callers pass the
// destination through kept_per_thread, so the whole address stays in one per-thread register.
__device__ __forceinline__ void cp_async16(uint32_t smem_s, const void* gmem, int src_bytes,
                                           uint64_t policy) {
  asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2, %3;\n" ::"r"(smem_s),
               "l"(gmem), "r"(src_bytes), "l"(policy));
}
// x, as a value ptxas cannot prove warp-uniform (a shuffle result), so it never lives in a
// uniform register.
__device__ __forceinline__ uint32_t kept_per_thread(uint32_t x) {
  return __shfl_sync(0xffffffffu, x, threadIdx.x % 32);
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// 8 stored elements (16 or 8 bytes of shared memory) -> 8 floats.
template <KvKind KV>
__device__ __forceinline__ void load8(const uint8_t* p, float (&x)[8]) {
  if constexpr (KV == KvKind::kFP8) {
    const uint2 raw = *reinterpret_cast<const uint2*>(p);
    const uint32_t w[2] = {raw.x, raw.y};
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const __half2_raw lo = __nv_cvt_fp8x2_to_halfraw2(
          static_cast<__nv_fp8x2_storage_t>(w[i] & 0xffffu), __NV_E4M3);
      const __half2_raw hi = __nv_cvt_fp8x2_to_halfraw2(
          static_cast<__nv_fp8x2_storage_t>(w[i] >> 16), __NV_E4M3);
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

// Sequence b's length, table offset and first slot. The kernels test all three at their early
// exit (a negative offset, which no valid table has, exits too), so the three loads go out
// together: with only the length tested, ptxas sank the other two below the exit, even as
// volatile or relaxed loads: two dependent round trips before the page ids instead of one
// (~0.5 us of every prologue on H200, gpu_notes.md run 26).
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
  if (kind == kQBF16) static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(x);
  else if (kind == kQF16) static_cast<__half*>(out)[i] = __float2half_rn(x);
  else static_cast<float*>(out)[i] = x;
}

// exp2 that maps a -inf exponent (an empty partial) to 0 without NaN from -inf - -inf.
__device__ __forceinline__ float weight2(float m, float ref) {
  return m == -INFINITY ? 0.f : exp2f(m - ref);
}

__device__ __forceinline__ void store_out4(void* out, int kind, int64_t i, float4 x) {
  store_out(out, kind, i, x.x);
  store_out(out, kind, i + 1, x.y);
  store_out(out, kind, i + 2, x.z);
  store_out(out, kind, i + 3, x.w);
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
__device__ __forceinline__ float slice_weights(float (&lv)[4], int active, float sink2,
                                               float* w) {
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
// read in batches of 16 slices x NV independent 16-byte loads (a batch costs one L2 round trip;
// v5's head-parallel merge, one dependent load per slice, cost up to 8 x 15 round trips;
// replacing it gained 4% at 32/8 B=16 L=4k, see docs/benchmarks/gpu_notes.md run 8). NV = 2
// lets one pass of a CTA's threads cover 8 heads x 128 dims (two passes, two round trips, cost
// 64/8 B=1 L=16k ~1 us, run 29).
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
  float* wm = wacc + kWarps * GP * D;             // [kWarps, GP]
  float* wl = wm + kWarps * GP;                   // [kWarps, GP]
  float* sw = wl + kWarps * GP;                   // [GP, num_splits] merge weights
  float* slse = sw + GP * a.num_splits;           // [GP] merged lse (log2)
  const bool direct = active == 1;
  // One thread per head turns the warps' (max, sum) into one factor per (warp, head), in place of
  // wm: v scale, softmax weight and normaliser together. Then every output element is a 4-term
  // dot product; computed per element (4 exp2 and a division each, GP * D / 128 times per
  // thread) this end took ~1 us more at GP = 8 (gpu_notes.md run 28).
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
    if (direct) store_out(a.out, a.q_kind, bh * D + d, o);
    else a.part_o[(bh * a.num_splits + split) * D + d] = o;
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
      load_lse(a.part_lse + (int64_t(b) * a.num_q_heads + head0 + g) * a.num_splits, active,
               lv[j]);
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
      q[g][e] = g < nheads
                    ? qmul * load_q(a.q, a.q_kind,
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
      const int64_t off = (int64_t(pg[j]) * a.stride_block +
                           int64_t((first + tok) & mask) * a.stride_token + head_off +
                           cc * C::kChunkElems) * C::kEs;
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
      for (int off = LPR; off < 32; off *= 2)
        mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, off));
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
  float* wm = wacc + kWarps * GP * D;             // [kWarps, GP]
  float* wl = wm + kWarps * GP;                   // [kWarps, GP]
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
