#pragma once
// Tensor-core variant of the fused paged decode kernel (FlashAttention-2 orientation).
//
// Why: the CUDA-core kernel (paged_decode_kernel.cuh) spends ~2*G*D FMAs plus G*log2(D/8)
// shuffles per K/V row; at G = 4..8 that is more issue slots than HBM leaves per row, so GQA ran
// compute-bound (v1 on H200: 54% of datasheet at G=4, 23% at G=8). Here one warp computes
//   S[16 x 16] = Q[16 x D] K^T   and   O[16 x D] += P[16 x 16] V     with mma.m16n8k16,
// rows = the CTA's query heads (GP <= 8, the rest zero), 16 tokens per warp tile, so the per-row
// cost no longer grows with G. P goes from the S accumulators straight into the A operand of
// the PV product (same register layout), K/V come out of shared memory by ldmatrix (V with
// .trans). Rows of a tile are stored with their 16-byte chunks XOR-swizzled by (token & 7) so
// the 8 rows an ldmatrix phase reads hit 8 different bank groups.
// fp8 KV: the tile lands as bytes, is converted once to f16 into a per-warp scratch tile in the
// same swizzled layout, and the f16 path runs on it (k/v scales are applied to S and O in f32).
// q must be in the MMA type (bf16 with bf16 KV, f16 with f16 or fp8 KV); other combinations
// (f32 q, mixed) use the CUDA-core kernel.

#include "attention/cuda/paged_decode_kernel.cuh"

namespace pagedkv::cuda_detail {

template <int D, KvKind KV>
struct MmaCfg {
  static constexpr bool kFp8 = KV == KvKind::kFP8;
  static constexpr int kEs = kFp8 ? 1 : 2;
  static constexpr int kTile = 16;                        // tokens per warp tile
  static constexpr int kRowBytes = D * kEs;               // stored row in the ring
  static constexpr int kRowBytes16 = D * 2;               // 16-bit row (computed from)
  static constexpr int kChunksPerRow = kRowBytes / 16;
  static constexpr int kChunksPerLane = kTile * kChunksPerRow / 32;  // per K (and V) tile
  static constexpr int kStageBytes = 2 * kTile * kRowBytes;
  static constexpr int kScratchBytes = kFp8 ? 2 * kTile * kRowBytes16 : 0;
  static constexpr int kStages = kFp8 ? (D == 64 ? 5 : D == 128 ? 4 : 3)
                                      : (D == 64 ? 4 : D == 128 ? 3 : 2);
  static constexpr int kPidSlots = 2 * kStages;            // page-id ring, one slot per tile
  static constexpr int kPidBytes = kPidSlots * kTile * 4;
  static constexpr int kWarpBytes = kStages * kStageBytes + kScratchBytes + kPidBytes;
  static constexpr int kSmemBytes = kWarps * kWarpBytes;
  static_assert(kTile * kChunksPerRow % 32 == 0, "tile must split evenly over a warp");
};

template <typename T> struct MmaType;
template <> struct MmaType<__nv_bfloat16> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
  }
  static __device__ __forceinline__ void mma(float (&c)[4], uint32_t a0, uint32_t a2,
                                             uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(0u), "r"(a2), "r"(0u), "r"(b0), "r"(b1));
  }
};
template <> struct MmaType<__half> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    const __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
  }
  static __device__ __forceinline__ void mma(float (&c)[4], uint32_t a0, uint32_t a2,
                                             uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(0u), "r"(a2), "r"(0u), "r"(b0), "r"(b1));
  }
};

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s));
}

// Byte offset of 16-byte chunk `ch` of token row `tok` in a swizzled 16-bit tile.
template <int RowBytes>
__device__ __forceinline__ int swz(int tok, int ch) {
  return tok * RowBytes + ((ch ^ (tok & 7)) << 4);
}

// Reads q element i (stored as q_kind) as the MMA type's float value.
__device__ __forceinline__ float q_as_float(const void* q, int kind, int64_t i) {
  return load_q(q, kind, i);
}

// Per-warp end of the head-parallel variant: each warp owns its (kv head, head group) for the
// whole slice, so no CTA merge; the last slice's warp merges the slices (as finish_cta does).
template <int D, int GP>
__device__ __forceinline__ void finish_warp(const KernelArgs& a, const float (&o)[D / 8][4],
                                            float m, float l, int split, int active, int unit,
                                            int kvh, int b, int head0, int nheads) {
  const int lane = threadIdx.x % 32;
  const int qrow = lane / 4, qk = (lane % 4) * 2;
  const float vs = a.v_head_scale ? a.v_head_scale[kvh] : a.v_scale;
  const int64_t bh = int64_t(b) * a.num_q_heads + head0 + qrow;
  if (active == 1) {
    if (qrow < nheads) {
      const float sink = a.sinks ? exp2f(a.sinks[head0 + qrow] * kLog2e - m) : 0.f;
      const float den = l + sink;
#pragma unroll
      for (int nt = 0; nt < D / 8; ++nt) {
        store_out(a.out, a.q_kind, bh * D + nt * 8 + qk, o[nt][0] * vs / den);
        store_out(a.out, a.q_kind, bh * D + nt * 8 + qk + 1, o[nt][1] * vs / den);
      }
      if (qk == 0 && a.lse) a.lse[bh] = (m + log2f(den)) * kLn2;
    }
    return;
  }
  if (qrow < nheads) {
    float* po = a.part_o + (bh * a.num_splits + split) * D;
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt)
      *reinterpret_cast<float2*>(po + nt * 8 + qk) = make_float2(o[nt][0] * vs / l, o[nt][1] * vs / l);
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
  constexpr int kPerLane = (D / 4 + 31) / 32;  // float4 groups of dims per lane
  for (int g = 0; g < nheads; ++g) {
    const int64_t bhg = int64_t(b) * a.num_q_heads + head0 + g;
    const float* pl = a.part_lse + bhg * a.num_splits;
    float lv[4];
    float mx = -INFINITY;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int sp = lane + 32 * k;
      lv[k] = sp < active ? __ldcg(pl + sp) : -INFINITY;
      mx = fmaxf(mx, lv[k]);
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      lv[k] = weight2(lv[k], mx);
      sum += lv[k];
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    const float den = sum + (a.sinks ? exp2f(a.sinks[head0 + g] * kLog2e - mx) : 0.f);
    float4 acc[kPerLane];
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) acc[u] = make_float4(0.f, 0.f, 0.f, 0.f);
    const float* po = a.part_o + bhg * a.num_splits * D;
    for (int sp = 0; sp < active; ++sp) {
      const float w = __shfl_sync(0xffffffffu, lv[0], sp % 32) * (sp < 32) +
                      __shfl_sync(0xffffffffu, lv[1], sp % 32) * (sp >= 32 && sp < 64) +
                      __shfl_sync(0xffffffffu, lv[2], sp % 32) * (sp >= 64 && sp < 96) +
                      __shfl_sync(0xffffffffu, lv[3], sp % 32) * (sp >= 96);
#pragma unroll
      for (int u = 0; u < kPerLane; ++u) {
        const int d4 = lane + 32 * u;
        if (d4 < D / 4) {
          const float4 v = __ldcg(reinterpret_cast<const float4*>(po + int64_t(sp) * D + d4 * 4));
          acc[u].x = fmaf(w, v.x, acc[u].x);
          acc[u].y = fmaf(w, v.y, acc[u].y);
          acc[u].z = fmaf(w, v.z, acc[u].z);
          acc[u].w = fmaf(w, v.w, acc[u].w);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) {
      const int d4 = lane + 32 * u;
      if (d4 < D / 4) {
        store_out(a.out, a.q_kind, bhg * D + d4 * 4, acc[u].x / den);
        store_out(a.out, a.q_kind, bhg * D + d4 * 4 + 1, acc[u].y / den);
        store_out(a.out, a.q_kind, bhg * D + d4 * 4 + 2, acc[u].z / den);
        store_out(a.out, a.q_kind, bhg * D + d4 * 4 + 3, acc[u].w / den);
      }
    }
    if (lane == 0 && a.lse) a.lse[bhg] = (mx + log2f(den)) * kLn2;
  }
}

// HEADS = false: the CTA's 4 warps split one (kv head, head group)'s tiles and merge in shared
// memory. HEADS = true ("head-parallel"): warp w owns unit 4*blockIdx.y + w (unit = kv head x
// head group) for the whole slice, so the 4 warps of a CTA stream the same tokens of 4 adjacent
// heads at the same time: for NHD pools that is 4 adjacent 256-byte row pieces per token instead
// of one, which the DRAM serves with fewer row activations.
// HW = 0: tile-parallel (HEADS false, 4 warps); HW = 4 or 8: head-parallel with HW warps per CTA
// (8 covers the 2 KB token record of an 8-kv-head NHD pool in one CTA; experiment, see notes).
template <int D, KvKind KV, typename T, int GP, int HW>
__global__ void __launch_bounds__(32 * (HW > 0 ? HW : kWarps), HW == 8 ? 1 : 2)
    paged_decode_mma_kernel(const KernelArgs a) {
  constexpr bool HEADS = HW > 0;
  using C = MmaCfg<D, KV>;
  using M = MmaType<T>;
  constexpr int S = C::kStages;
  constexpr int TR = C::kTile;
  constexpr int NT = D / 8;  // output n-tiles
  extern __shared__ __align__(16) uint8_t smem[];

  const int split = blockIdx.x;
  const int b = blockIdx.z;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int unit = HEADS ? blockIdx.y * HW + warp : blockIdx.y;
  if (HEADS && unit >= a.num_kv_heads * a.head_groups) return;  // no CTA barrier in HEADS mode
  const int kvh = unit / a.head_groups;
  const int hg = unit % a.head_groups;
  constexpr int kSliceAlign = HEADS ? 16 : kWarps * 16;  // slices are whole tiles of all warps

  // Independent loads first (one round trip for all three).
  const int len = a.visible_len[b];
  const int seq_base = a.indptr[b];
  const int first = a.first_offset[b];
  int per = (len + a.num_splits - 1) / a.num_splits;
  per = (per + kSliceAlign - 1) / kSliceAlign * kSliceAlign;
  const int active = (len + per - 1) / per;
  if (split >= active) return;
  const int start = split * per;
  const int end = min(len, start + per);
  const int32_t* pages = a.indices + seq_base;
  const int head0 = kvh * a.group + hg * GP;
  const int nheads = min(GP, a.group - hg * GP);

  // Q as the A operand: row = head lane/4 (zero beyond nheads), a0: k = (lane%4)*2 + {0,1},
  // a2: k + 8; rows 8..15 (a1, a3) are zero.
  const int qrow = lane / 4;
  const int qk = (lane % 4) * 2;
  uint32_t qa[D / 16][2];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    float x[4] = {0.f, 0.f, 0.f, 0.f};
    if (qrow < nheads) {
      const int64_t base = (int64_t(b) * a.num_q_heads + head0 + qrow) * D + kk * 16 + qk;
      x[0] = q_as_float(a.q, a.q_kind, base);
      x[1] = q_as_float(a.q, a.q_kind, base + 1);
      x[2] = q_as_float(a.q, a.q_kind, base + 8);
      x[3] = q_as_float(a.q, a.q_kind, base + 9);
    }
    qa[kk][0] = M::pack(x[0], x[1]);
    qa[kk][1] = M::pack(x[2], x[3]);
  }
  const float ks = a.k_head_scale ? a.k_head_scale[kvh] : a.k_scale;
  const float smul = a.scale * ks * (a.softcap > 0.f ? 1.f : kLog2e);

  float m = -INFINITY, l = 0.f;  // head qrow: running max (log2 units) and this lane's sum
  float o[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.f;

  const int tiles = (end - start + TR - 1) / TR;
  // Warp tile i is slice tile tile_of(i): interleaved over warps, or all tiles (HEADS).
  const int my_tiles = HEADS ? tiles : tiles > warp ? (tiles - warp + kWarps - 1) / kWarps : 0;
  const int tstep = HEADS ? 1 : kWarps;
  const int toff = HEADS ? 0 : warp;
  uint8_t* ring = smem + warp * C::kWarpBytes;
  uint8_t* scratch = ring + S * C::kStageBytes;
  const int mask = (1 << a.block_shift) - 1;
  const int64_t head_off = int64_t(kvh) * a.stride_head;

  // Page ids travel through a per-warp shared ring by cp.async, fetched S-1 tiles ahead of the
  // tile that needs them, in the same commit group as an earlier tile's K/V: a dependent page
  // lookup never sits on the critical path of an iteration (v2 fetched them one iteration ahead
  // into registers, and every iteration waited a loaded-memory round trip for them).
  int32_t* pid = reinterpret_cast<int32_t*>(scratch + C::kScratchBytes);  // [kPidSlots, 16]
  auto fetch_pids = [&](int i) {  // page ids of warp tile i -> its ring slot (lanes 0..15)
    if (lane < TR) {
      const int tok = start + (toff + tstep * i) * TR + lane;
      const bool ok = i < my_tiles && tok < end;
      int32_t* dst = pid + (i % C::kPidSlots) * TR + lane;
      const uint32_t sd = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
      const int32_t* src = ok ? pages + ((first + tok) >> a.block_shift) : pages;
      asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(sd), "l"(src),
                   "r"(ok ? 4 : 0));
    }
  };
  auto issue = [&](int i) {
    uint8_t* st = ring + (i % S) * C::kStageBytes;
    const int32_t* tp = pid + (i % C::kPidSlots) * TR;
    const int row0 = start + (toff + tstep * i) * TR;
#pragma unroll
    for (int j = 0; j < C::kChunksPerLane; ++j) {
      const int c = lane + 32 * j;
      const int r = c / C::kChunksPerRow;
      const int ch = c % C::kChunksPerRow;
      const int tok = row0 + r;
      const bool ok = tok < end;
      const int64_t off = (int64_t(tp[r]) * a.stride_block +
                           int64_t((first + tok) & mask) * a.stride_token + head_off) * C::kEs +
                          ch * 16;
      // 16-bit rows are stored swizzled; fp8 rows plainly (the conversion swizzles).
      const int dst = C::kFp8 ? r * C::kRowBytes + ch * 16 : swz<C::kRowBytes>(r, ch);
      cp_async16(st + dst, ok ? a.k + off : a.k, ok ? 16 : 0);
      cp_async16(st + TR * C::kRowBytes + dst, ok ? a.v + off : a.v, ok ? 16 : 0);
    }
  };

  // Prologue: page ids of tiles 0..S-2 (one round trip), then those tiles' K/V, each group also
  // carrying the page ids of the tile S-1 further on.
  for (int i = 0; i < S - 1; ++i) fetch_pids(i);
  cp_async_commit();
  cp_async_wait<0>();
  __syncwarp();
#pragma unroll
  for (int i = 0; i < S - 1; ++i) {
    if (i < my_tiles) issue(i);
    fetch_pids(i + S - 1);
    cp_async_commit();
  }

  for (int i = 0; i < my_tiles; ++i) {
    // Tile i (and the page ids of tile i+S-1, which rode in its group) have landed.
    cp_async_wait<S - 2>();
    __syncwarp();
    if (i + S - 1 < my_tiles) issue(i + S - 1);
    fetch_pids(i + 2 * (S - 1));
    cp_async_commit();

    const uint8_t* sk;
    if constexpr (C::kFp8) {
      // fp8 bytes -> f16, into the swizzled scratch tile (K rows then V rows).
      const uint8_t* st = ring + (i % S) * C::kStageBytes;
      constexpr int kChunks8 = 2 * TR * C::kChunksPerRow;  // K and V fp8 chunks of this tile
#pragma unroll
      for (int j = 0; j < kChunks8 / 32; ++j) {
        const int c = lane + 32 * j;
        const int r = c / C::kChunksPerRow;  // 0..31: K rows, then V rows
        const int ch = c % C::kChunksPerRow;
        const uint4 raw = *reinterpret_cast<const uint4*>(st + r * C::kRowBytes + ch * 16);
        const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
        uint32_t h[8];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const __half2_raw lo = __nv_cvt_fp8x2_to_halfraw2(
              static_cast<__nv_fp8x2_storage_t>(w[e] & 0xffffu), __NV_E4M3);
          const __half2_raw hi = __nv_cvt_fp8x2_to_halfraw2(
              static_cast<__nv_fp8x2_storage_t>(w[e] >> 16), __NV_E4M3);
          h[2 * e] = uint32_t(lo.x) | (uint32_t(lo.y) << 16);
          h[2 * e + 1] = uint32_t(hi.x) | (uint32_t(hi.y) << 16);
        }
        const int tok = r % TR;
        uint8_t* dst = scratch + (r / TR) * TR * C::kRowBytes16;
        *reinterpret_cast<uint4*>(dst + swz<C::kRowBytes16>(tok, 2 * ch)) =
            make_uint4(h[0], h[1], h[2], h[3]);
        *reinterpret_cast<uint4*>(dst + swz<C::kRowBytes16>(tok, 2 * ch + 1)) =
            make_uint4(h[4], h[5], h[6], h[7]);
      }
      __syncwarp();
      sk = scratch;
    } else {
      sk = ring + (i % S) * C::kStageBytes;
    }
    const uint8_t* sv = sk + TR * C::kRowBytes16;
    const int row0 = start + (toff + tstep * i) * TR;

    // S = Q K^T for the tile's 16 tokens: two n-tiles of 8 tokens.
    float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
    {
      const int mat = lane / 8;
      const int tok = (mat >> 1) * 8 + lane % 8;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        uint32_t kb[4];
        ldmatrix_x4(kb, sk + swz<C::kRowBytes16>(tok, 2 * kk + (mat & 1)));
        M::mma(s[0], qa[kk][0], qa[kk][1], kb[0], kb[1]);
        M::mma(s[1], qa[kk][0], qa[kk][1], kb[2], kb[3]);
      }
    }
    // Online softmax for head qrow over tokens row0 + nt*8 + qk + {0,1}.
    float mt = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float x = s[nt][e] * smul;
        if (a.softcap > 0.f) x = a.softcap * tanhf(x / a.softcap) * kLog2e;
        x = row0 + nt * 8 + qk + e < end ? x : -INFINITY;
        s[nt][e] = x;
        mt = fmaxf(mt, x);
      }
    mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
    mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 2));
    const float mn = fmaxf(m, mt);  // finite: token row0 is visible
    const float alpha = exp2f(m - mn);
    m = mn;
    float ps = 0.f;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        s[nt][e] = exp2f(s[nt][e] - mn);
        ps += s[nt][e];
      }
    l = l * alpha + ps;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      o[nt][0] *= alpha;
      o[nt][1] *= alpha;
    }
    // O += P V: P's accumulator layout is the A operand's (rows 8..15 zero).
    const uint32_t pa0 = M::pack(s[0][0], s[0][1]);
    const uint32_t pa2 = M::pack(s[1][0], s[1][1]);
    {
      const int mat = lane / 8;
      const int tok = (mat & 1) * 8 + lane % 8;
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t vb[4];
        ldmatrix_x4_trans(vb, sv + swz<C::kRowBytes16>(tok, 2 * dp + (mat >> 1)));
        M::mma(o[2 * dp], pa0, pa2, vb[0], vb[1]);
        M::mma(o[2 * dp + 1], pa0, pa2, vb[2], vb[3]);
      }
    }
    __syncwarp();
  }
  cp_async_wait<0>();

  // The 4 lanes of a head row hold disjoint tokens' sums.
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  if constexpr (HEADS) {
    finish_warp<D, GP>(a, o, m, l, split, active, unit, kvh, b, head0, nheads);
    return;
  }

  __syncthreads();
  float* wacc = reinterpret_cast<float*>(smem);  // [kWarps, GP, D]
  float* wm = wacc + kWarps * GP * D;             // [kWarps, GP]
  float* wl = wm + kWarps * GP;                   // [kWarps, GP]
  if (qrow < GP) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      wacc[(warp * GP + qrow) * D + nt * 8 + qk] = o[nt][0];
      wacc[(warp * GP + qrow) * D + nt * 8 + qk + 1] = o[nt][1];
    }
    if (lane % 4 == 0) {
      wm[warp * GP + qrow] = m;
      wl[warp * GP + qrow] = l;
    }
  }
  __syncthreads();
  finish_cta<D, GP>(a, smem, split, active, kvh, hg, b, head0, nheads);
}

}  // namespace pagedkv::cuda_detail
