#pragma once
// The paged prefill kernel: FlashAttention-2 over a paged NHD pool, with the GQA group packed into
// the query tile (FlashInfer's layout).
//
// Grid (row tile, kv head, sequence). A CTA takes 64 packed rows of one sequence and one kv head,
// row = token * G + head-in-group, so every K/V tile it loads serves the whole group; warp w owns
// rows 16w..16w+15 (the M of one mma.m16n8k16). Key tiles are aligned to absolute positions
// (tile j = keys [jN, jN + N)) and stream through a cp.async ring (PrefillCfg::kStages deep)
// whose key rows are addressed one by one through the sequence's block list, so a tile may span
// many blocks (block size 1..256) and the first listed block may start before the first visible
// key. Per tile and warp: S = Q Kᵀ (K by ldmatrix), scale (and softcap), the per-row mask
// rule.visible_begin(p + 1) <= key <= p, online softmax in f32 (exp2 with log2e folded into the
// scale), O += P V (P straight from the S accumulators, V by ldmatrix.trans).
//
// Which tiles: the CTA's rows see the union of their ranges, [visible_begin(p_first + 1),
// p_last] (contiguous for full, sliding and chunked rules), so a sliding window or a chunk costs
// O(rows + W) keys per CTA, not O(T). A warp skips the tiles that none of its rows sees, and
// masks only the tiles that cut some row's range (others are visible to all its rows).
//
// Bit-exactness: a row's result depends only on its own visible keys, in tile order: tile
// boundaries are absolute positions, a tile with no visible key for a row leaves its m, l, O
// bit for bit unchanged (alpha is exactly 1 when the max does not move, P = 0), and the lanes of a
// row always hold the same key columns. So the same row computed in a whole prefill, a chunk of
// it, another CTA or another row slot gives the same bits, wherever its blocks lie.
//
// fp8 KV: the raw tile lands in the ring and is converted once per CTA into a 16-bit (f16)
// operand tile by bit moves (e4m3x2_to_f16x2_scaled: exact, 2^-8 scaled, the 2^8 folded into
// the logit scale and the output factor with k_scale / v_scale); q (bf16 or f16) is converted to
// f16 on its way into shared memory (exact for |q| in f16's normal range; beyond 65504 it would
// overflow).
//
// Keys outside the CTA's range (before it, after its last row, past the listed blocks) are never
// read: their copies are zero-byte (zero fill) from a valid address, so garbage or NaN in slots no
// row may see cannot reach the output.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "attention/cuda/cp_async.cuh"
#include "attention/cuda/decode_kernel_args.h"  // kLog2e
#include "attention/cuda/fp8_bits.h"
#include "attention/cuda/mma_fragments.cuh"
#include "attention/cuda/prefill_config.cuh"
#include "attention/cuda/prefill_kernel_args.h"

namespace pagedkv::cuda_detail {

// Eight bf16 values as eight f16 values (round to nearest; exact in f16's normal range).
__device__ __forceinline__ uint32_t bf16x2_to_f16x2(uint32_t w) {
  const float lo = __uint_as_float(w << 16), hi = __uint_as_float(w & 0xffff0000u);
  return MmaType<__half>::pack(lo, hi);
}

// One 16-byte chunk of 16 e4m3 values (4 words of 4 consecutive dims) as two chunks of 8 f16
// values, 2^-8 scaled.
__device__ __forceinline__ void fp8x16_to_f16(const uint4 w, uint4& lo, uint4& hi) {
  lo.x = fp8_pair(w.x, kPermLoPair);
  lo.y = fp8_pair(w.x, kPermHiPair);
  lo.z = fp8_pair(w.y, kPermLoPair);
  lo.w = fp8_pair(w.y, kPermHiPair);
  hi.x = fp8_pair(w.z, kPermLoPair);
  hi.y = fp8_pair(w.z, kPermHiPair);
  hi.z = fp8_pair(w.w, kPermLoPair);
  hi.w = fp8_pair(w.w, kPermHiPair);
}

// First key position the query at position p sees (AttentionRule::visible_begin(p + 1)).
__device__ __forceinline__ int prefill_visible_begin(const PrefillKernelArgs& a, int p) {
  if (a.rule == kRuleSliding) return max(0, p + 1 - a.rule_param);
  if (a.rule == kRuleChunked) return p / a.rule_param * a.rule_param;
  return 0;
}

// QT: q / out storage type; T: mma operand type (QT for 16-bit KV, f16 for fp8 KV).
template <int D, bool kFp8, typename QT, typename T>
__global__ void __launch_bounds__(128, 2) paged_prefill_mma_kernel(const PrefillKernelArgs a) {
  using C = PrefillCfg<D, kFp8>;
  using M = MmaType<T>;
  constexpr int S = C::kStages;
  constexpr int N = C::kN;
  constexpr int RB = C::kRowBytes;
  constexpr int NT = D / 8;   // output n-tiles (8 dims each)
  constexpr int NS = N / 8;   // S n-tiles (8 keys each)
  constexpr int QCH = D / 8;  // 16-byte chunks of a 16-bit row
  static_assert(kFp8 || std::is_same_v<QT, T>, "16-bit KV runs in q's type");
  extern __shared__ __align__(128) uint8_t smem[];

  const int seq = blockIdx.z;
  const int kvh = blockIdx.y;
  const int tile = gridDim.x - 1 - blockIdx.x;  // the longest rows' tiles start first
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int G = a.group;

  // The sequence's rows and blocks (loads issued together: one round trip).
  const int q0 = a.q_indptr[seq], q1 = a.q_indptr[seq + 1];
  const int qpos = a.q_pos[seq];
  const int kv0 = a.kv_indptr[seq], kv1 = a.kv_indptr[seq + 1];
  const int kvb = a.kv_base[seq];
  const int packed = (q1 - q0) * G;  // packed rows of this sequence
  const int row0 = tile * C::kM;
  if (row0 >= packed) return;  // the whole CTA: no barrier passed yet

  // Keys the CTA's rows see: [klo, khi], clipped to the listed blocks (a malformed table then
  // reads zeros instead of memory it does not own).
  const int p_first = qpos + row0 / G;
  const int p_last = qpos + (min(row0 + C::kM, packed) - 1) / G;
  const int klo = max(prefill_visible_begin(a, p_first), kvb);
  const int khi = min(p_last, kvb + ((kv1 - kv0) << a.block_shift) - 1);
  const int jlo = klo / N;
  const int ntiles = khi >= klo ? khi / N - jlo + 1 : 0;

  // This lane's two rows (lane/4 and lane/4 + 8 of the warp's 16) see keys [lo, hi]; rows past
  // the sequence see none. The warp's rows span positions [wp_first, wp_last].
  const int wr0 = row0 + warp * 16;
  const bool warp_rows = wr0 < packed;
  const int wp_first = qpos + wr0 / G;
  const int wp_last = qpos + (min(wr0 + 15, packed - 1)) / G;
  const int w_lo_min = prefill_visible_begin(a, wp_first);
  const int w_lo_max = prefill_visible_begin(a, wp_last);
  int lo[2], hi[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int r = wr0 + lane / 4 + 8 * i;
    const int p = qpos + r / G;
    lo[i] = r < packed ? prefill_visible_begin(a, p) : 1;
    hi[i] = r < packed ? p : 0;
  }

  uint8_t* const stages = smem;
  uint8_t* const scratch = smem + C::kScratchOff;  // fp8: [K, V] 16-bit operand tiles
  uint8_t* const qs = smem + C::kQOff;             // [64 rows, D] 16-bit, swizzled
  int32_t* const pid = reinterpret_cast<int32_t*>(smem + C::kPidOff);  // [kPidSlots, N]
  const int32_t* const pages = a.kv_indices + kv0;
  const int bmask = (1 << a.block_shift) - 1;

  // Page ids of tile i's keys -> ring slot i % kPidSlots (threads 0..N-1, one key each). Tile
  // i's ids ride in the copy group of tile i - (S - 1), so they have landed when tile i is issued.
  // 2S slots: the prologue reads ids 0..S-2 while writing S-1..2S-3, and iteration j reads
  // j + S - 1 while writing j + 2S - 2 over j - 2 (last read in iteration j - S - 1).
  auto fetch_pids = [&](int i) {
    if (tid < N && i < ntiles) {
      const int key = (jlo + i) * N + tid;
      const bool ok = key >= klo && key <= khi;
      const int32_t* src = ok ? pages + ((key - kvb) >> a.block_shift) : a.kv_indices;
      cp_async4(pid + (i % C::kPidSlots) * N + tid, src, ok ? 4 : 0);
    }
  };
  // K/V rows of tile i -> stage i % S. Thread copies 16-byte chunk lch of rows lrow + kRowsPerPass
  // * j. Offsets from unsigned 32-bit factors (the host checks block and token strides < 4 GiB):
  // two wide multiply-adds per row. Keys outside [klo, khi] copy 0 bytes from page 0 or a
  // listed page (their id slot is zero or real; the slot is masked into the block).
  const int lrow = tid / C::kRawChunks, lch = tid % C::kRawChunks;
  const uint64_t lane_src = a.head_bytes * uint64_t(kvh) + uint64_t(lch * 16);
  auto issue = [&](int i) {
    const int k0 = (jlo + i) * N;
    uint8_t* const st = stages + (i % S) * C::kStageBytes;
    const int32_t* const tp = pid + (i % C::kPidSlots) * N;
#pragma unroll
    for (int j = 0; j < C::kPasses; ++j) {
      const int r = lrow + C::kRowsPerPass * j;
      const int key = k0 + r;
      const int bytes = key >= klo && key <= khi ? 16 : 0;
      const uint32_t slot = uint32_t(key - kvb) & uint32_t(bmask);
      const uint64_t off =
          uint64_t(uint32_t(tp[r])) * a.block_bytes + uint64_t(slot) * a.token_bytes + lane_src;
      const int dst = kFp8 ? r * C::kRawRowBytes + lch * 16 : swz<RB>(r, lch);
      cp_async16(st + dst, a.k + off, bytes);
      cp_async16(st + C::kTileBytes + dst, a.v + off, bytes);
    }
  };
  // fp8: this thread's raw chunks of stage i (the ones it copied, so its own wait suffices) ->
  // 16-bit operand tiles, swizzled like a 16-bit stage.
  auto convert = [&](int i) {
    const uint8_t* const st = stages + (i % S) * C::kStageBytes;
#pragma unroll
    for (int j = 0; j < C::kPasses; ++j) {
      const int r = lrow + C::kRowsPerPass * j;
#pragma unroll
      for (int kv = 0; kv < 2; ++kv) {
        const uint8_t* const src = st + kv * C::kTileBytes + r * C::kRawRowBytes + lch * 16;
        const uint4 w = *reinterpret_cast<const uint4*>(src);
        uint4 lo16, hi16;
        fp8x16_to_f16(w, lo16, hi16);
        uint8_t* const dst = scratch + kv * C::kOpTileBytes;
        *reinterpret_cast<uint4*>(dst + swz<RB>(r, 2 * lch)) = lo16;
        *reinterpret_cast<uint4*>(dst + swz<RB>(r, 2 * lch + 1)) = hi16;
      }
    }
  };

  // Prologue: page ids of tiles 0..S-2 (one round trip), then those tiles' K/V, each group also
  // carrying the page ids of the tile S-1 further on.
  for (int i = 0; i < S - 1; ++i) fetch_pids(i);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  for (int i = 0; i < S - 1; ++i) {
    if (i < ntiles) issue(i);
    fetch_pids(i + S - 1);
    cp_async_commit();
  }

  // Q tile -> shared memory in the mma type (zero rows past the sequence), while the first K/V
  // tiles are in flight.
#pragma unroll
  for (int c0 = 0; c0 < C::kM * QCH; c0 += C::kThreads) {
    const int c = c0 + tid;
    const int r = c / QCH, ch = c % QCH;
    const int R = row0 + r;
    uint4 w = make_uint4(0u, 0u, 0u, 0u);
    if (R < packed) {
      const int t = R / G, g = R - t * G;
      const QT* src = static_cast<const QT*>(a.q) +
                      (int64_t(q0 + t) * a.num_q_heads + int64_t(kvh) * G + g) * D + ch * 8;
      w = __ldg(reinterpret_cast<const uint4*>(src));
      if constexpr (!std::is_same_v<QT, T>) {  // bf16 q with fp8 KV: f16 operands
        w.x = bf16x2_to_f16x2(w.x);
        w.y = bf16x2_to_f16x2(w.y);
        w.z = bf16x2_to_f16x2(w.z);
        w.w = bf16x2_to_f16x2(w.w);
      }
    }
    *reinterpret_cast<uint4*>(qs + swz<RB>(r, ch)) = w;
  }
  __syncthreads();

  // ldmatrix lane addresses (byte offsets in a swizzled 16-bit tile). Chunk 2kk + c of a row is
  // 8 (kk / 4) + (2 (kk % 4) + c), and the swizzle XORs only the low 3 bits with row & 7, so
  // each operand needs four per-lane bases plus the immediate 128 (kk / 4).
  // A (Q) and V (.trans): lanes 8m..8m+7 address matrix m: rows 0-7 / 8-15 (m = 0 / 1) of the
  // first chunk, then of the second (m = 2 / 3) -> a0..a3 of Q rows, or b0 / b1 of dims 2dp and
  // 2dp + 1 for V (rows = keys).
  // K: matrices 0 / 1 = keys 0-7 of the first / second chunk (b0, b1 of n-tile 2np), 2 / 3 the
  // same of keys 8-15 (n-tile 2np + 1).
  uint32_t abase[4], kbase[4];
  {
    const int arow = ((lane / 8) & 1) * 8 + lane % 8, ach = lane / 16;
    const int krow = (lane / 16) * 8 + lane % 8, kch = (lane / 8) & 1;
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      abase[c] = swz<RB>(arow, 2 * c + ach);
      kbase[c] = swz<RB>(krow, 2 * c + kch);
    }
  }
  const uint32_t qs_s = smem_addr(qs) + warp * 16 * RB;  // this warp's 16 Q rows
  constexpr int QF = C::kQInRegs ? D / 16 : 1;
  uint32_t qa[QF][4];
  if constexpr (C::kQInRegs) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) ldmatrix_x4(qa[kk], qs_s + abase[kk % 4] + 128 * (kk / 4));
  }

  // Logit scale in log2 units (k_scale and fp8's 2^8 folded in); softcap decided once per launch.
  const float ks = kFp8 ? (a.k_head_scale ? a.k_head_scale[kvh] : a.k_scale) : 1.f;
  const float vs = kFp8 ? (a.v_head_scale ? a.v_head_scale[kvh] : a.v_scale) * kFp8Unscale : 1.f;
  const bool softcap = a.softcap > 0.f;
  const float smul = a.scale * ks * (softcap ? 1.f : kLog2e) * (kFp8 ? kFp8Unscale : 1.f);
  const float inv_cap = softcap ? 1.f / a.softcap : 0.f;
  const float cap_log2e = a.softcap * kLog2e;
  const int kcol = 2 * (lane % 4);  // key column of s[nt][e] within n-tile nt: kcol + e

  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // running max (log2), lane's sum
  float o[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.f;

  for (int j = 0; j < ntiles; ++j) {
    // Tile j (and the page ids of tile j + S - 1) landed; every warp is done with tile j - 1,
    // so its stage (and fp8's operand tiles) may be refilled.
    cp_async_wait<S - 2>();
    __syncthreads();
    if (j + S - 1 < ntiles) issue(j + S - 1);
    fetch_pids(j + 2 * S - 2);
    cp_async_commit();
    if constexpr (kFp8) {
      convert(j);
      __syncthreads();
    }
    const int k0 = (jlo + j) * N;
    // Warp-uniform: no row of this warp sees a key of the tile -> nothing to do (bit-exact no-op).
    if (!warp_rows || k0 > wp_last || k0 + N - 1 < w_lo_min) continue;
    // Every row of the warp sees every key of the tile -> no mask.
    const bool need_mask =
        !(k0 >= w_lo_max && k0 + N - 1 <= wp_first && k0 >= klo && k0 + N - 1 <= khi);
    const uint32_t sk_s = kFp8 ? smem_addr(scratch) : smem_addr(stages + (j % S) * C::kStageBytes);
    const uint32_t sv_s = sk_s + (kFp8 ? C::kOpTileBytes : C::kTileBytes);

    // S = Q Kᵀ: rows = the warp's 16 rows, columns = the tile's N keys.
    float s[NS][4];
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t qk[4];
      if constexpr (C::kQInRegs) {
        qk[0] = qa[kk][0];
        qk[1] = qa[kk][1];
        qk[2] = qa[kk][2];
        qk[3] = qa[kk][3];
      } else {
        ldmatrix_x4(qk, qs_s + abase[kk % 4] + 128 * (kk / 4));
      }
#pragma unroll
      for (int np = 0; np < N / 16; ++np) {
        uint32_t kb[4];
        ldmatrix_x4(kb, sk_s + np * 16 * RB + kbase[kk % 4] + 128 * (kk / 4));
        M::mma(s[2 * np], qk, kb[0], kb[1]);
        M::mma(s[2 * np + 1], qk, kb[2], kb[3]);
      }
    }

    // Scale (softcap), mask, online softmax of rows lane/4 (s[.][0..1]) and lane/4 + 8
    // (s[.][2..3]) over keys k0 + 8 nt + kcol + e.
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float mt = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < NS; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float x = s[nt][2 * i + e] * smul;
          if (softcap) x = cap_log2e * tanhf(x * inv_cap);
          if (need_mask) {
            const int key = k0 + nt * 8 + kcol + e;
            x = key >= lo[i] && key <= hi[i] ? x : -INFINITY;
          }
          s[nt][2 * i + e] = x;
          mt = fmaxf(mt, x);
        }
      mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
      mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 2));
      const float mn = fmaxf(m[i], mt);
      const float mb = mn == -INFINITY ? 0.f : mn;  // a row that has seen nothing yet
      const float alpha = mn == m[i] ? 1.f : fast_exp2(m[i] - mb);
      m[i] = mn;
      float ps = 0.f;
#pragma unroll
      for (int nt = 0; nt < NS; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float p = fast_exp2(s[nt][2 * i + e] - mb);
          s[nt][2 * i + e] = p;
          ps += p;
        }
      l[i] = l[i] * alpha + ps;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        o[nt][2 * i] *= alpha;
        o[nt][2 * i + 1] *= alpha;
      }
    }

    // O += P V: P's accumulator layout is the A operand's (a0 / a1: rows g / g + 8, keys
    // 2t..2t+1 of the k-step; a2 / a3: keys 8 + 2t..).
#pragma unroll
    for (int kq = 0; kq < N / 16; ++kq) {
      const uint32_t pa[4] = {
          M::pack(s[2 * kq][0], s[2 * kq][1]), M::pack(s[2 * kq][2], s[2 * kq][3]),
          M::pack(s[2 * kq + 1][0], s[2 * kq + 1][1]), M::pack(s[2 * kq + 1][2], s[2 * kq + 1][3])};
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t vb[4];
        ldmatrix_x4_trans(vb, sv_s + kq * 16 * RB + abase[dp % 4] + 128 * (dp / 4));
        M::mma(o[2 * dp], pa, vb[0], vb[1]);
        M::mma(o[2 * dp + 1], pa, vb[2], vb[3]);
      }
    }
  }
  cp_async_wait<0>();  // only empty groups can be pending; nothing lands after the exit

  if (!warp_rows) return;
  // The 4 lanes of a row hold disjoint keys' sums.
  float f[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
    f[i] = l[i] > 0.f ? vs / l[i] : 0.f;
  }
  // Stage the warp's 16 output rows (q's dtype) in its own rows of the Q tile (only this warp
  // reads them), then write whole 16-byte chunks of the rows that exist.
  __syncwarp();
  uint8_t* const wq = qs + warp * 16 * RB;
  using O = MmaType<QT>;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    *reinterpret_cast<uint32_t*>(wq + swz<RB>(lane / 4, nt) + 4 * (lane % 4)) =
        O::pack(o[nt][0] * f[0], o[nt][1] * f[0]);
    *reinterpret_cast<uint32_t*>(wq + swz<RB>(lane / 4 + 8, nt) + 4 * (lane % 4)) =
        O::pack(o[nt][2] * f[1], o[nt][3] * f[1]);
  }
  __syncwarp();
#pragma unroll
  for (int c0 = 0; c0 < 16 * QCH; c0 += 32) {
    const int c = c0 + lane;
    const int r = c / QCH, ch = c % QCH;
    const int R = wr0 + r;
    if (R < packed) {
      const int t = R / G, g = R - t * G;
      QT* dst = static_cast<QT*>(a.out) +
                (int64_t(q0 + t) * a.num_q_heads + int64_t(kvh) * G + g) * D + ch * 8;
      *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(wq + swz<RB>(r, ch));
    }
  }
}

}  // namespace pagedkv::cuda_detail
