#pragma once
// Tensor-core variant of the fused paged decode kernel (FlashAttention-2 orientation).
//
// Why: the CUDA-core kernel (paged_decode_kernel.cuh) spends ~2*G*D FMAs plus G*log2(D/8)
// shuffles per K/V row; at G = 4..8 that is more issue slots than HBM leaves per row, so GQA runs
// compute-bound on it (on H200: 54% of the datasheet bandwidth at G=4, 23% at G=8). Here one
// warp computes
//   S[16 x 16] = Q[16 x D] K^T   and   O[16 x D] += P[16 x 16] V     with mma.m16n8k16,
// rows = the CTA's query heads (GP <= 8, the rest zero), 16 tokens per warp tile (fp8 up to
// D = 128: 32, two k-steps of PV), so the per-row cost no longer grows with G. P goes from the
// S accumulators straight into the A operand of the PV product (same register layout), K/V
// come out of shared memory by ldmatrix (V with .trans). Rows of a tile are stored with their
// 16-byte chunks XOR-swizzled by (token & 7) so the 8 rows an ldmatrix phase reads hit 8
// different bank groups.
// Loader: 16-byte cp.async, each warp instruction covering two whole 256-byte row pieces. What
// limits it is the number of memory requests, not instructions: one page lookup per lane with 16
// rows per instruction (4x the requests per byte) ran 22-37% slower on H200, and TMA bulk copies
// were slower than cp.async for 256-byte row pieces (7-50%; TMA boxes of 16 slots x 128 bytes no
// faster for 16-bit KV, 5-9% slower for fp8).
// fp8 KV: the tile lands as bytes and goes straight into f16 mma operands, two integer ops per
// pair of values (e4m3x2_to_f16x2_scaled): K rows by 16-byte loads in a permuted d order that q
// shares, V by ldmatrix.trans of byte pairs whose even / odd bytes feed two n-tiles (out_dim).
// That is 16-25% faster than converting the tile into an f16 scratch tile by the conversion unit.
// Pipeline: each warp keeps MmaCfg::kLead tiles in flight through its kStages-deep cp.async ring.
// q must be in the MMA type (bf16 with bf16 KV, f16 with f16 or fp8 KV); other combinations
// (f32 q, mixed) use the CUDA-core kernel.

#include "attention/cuda/cp_async.cuh"
#include "attention/cuda/cta_finish.cuh"
#include "attention/cuda/decode_io.cuh"
#include "attention/cuda/decode_kernel_args.h"
#include "attention/cuda/fp8_bits.h"
#include "attention/cuda/mma_config.cuh"
#include "attention/cuda/mma_fragments.cuh"
#include "attention/cuda/warp_finish.cuh"

namespace pagedkv::cuda_detail {

// HEADS = false ("tile-parallel"): the CTA's 4 warps split one (kv head, head group)'s tiles
// and merge in shared memory. HEADS = true ("head-parallel", kHeadsWarps = 2 warps per CTA):
// warp w owns unit 2*blockIdx.y + w (unit = kv head x head group) for the whole slice, and the
// head-parallel warps running together stream the same tokens of adjacent heads: for NHD pools
// several adjacent 256-byte row pieces per token instead of one, which the DRAM serves with
// fewer row activations. (On H200: 4 head-parallel warps per CTA were 12-16% faster than one
// head per CTA at >= 4 GB; 8 warps gained nothing; 2 warps are 0-3% faster than 4, from fewer
// splits.)
template <int D, KvKind KV, typename T, int GP, bool HEADS>
__global__ void __launch_bounds__(kThreads, 2) paged_decode_mma_kernel(const KernelArgs a) {
  using C = MmaCfg<D, KV>;
  using M = MmaType<T>;
  constexpr int S = C::kStages;
  constexpr int LD = C::kLead;
  constexpr int TR = C::kTile;
  constexpr int NT = D / 8;  // output n-tiles
  extern __shared__ __align__(16) uint8_t smem[];

  const int split = blockIdx.x;
  const int b = blockIdx.z;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int unit = HEADS ? blockIdx.y * kHeadsWarps + warp : blockIdx.y;
  if (HEADS && unit >= a.num_kv_heads * a.head_groups) return;  // no CTA barrier in HEADS mode
  const int kvh = unit / a.head_groups;
  const int hg = unit % a.head_groups;
  constexpr int kSliceAlign = HEADS ? TR : kWarps * TR;  // slices are whole tiles of all warps

  const SeqInfo seq = load_seq(a, b);  // one round trip
  const int len = seq.len, seq_base = seq.base, first = seq.first;
  int per = (len + a.num_splits - 1) / a.num_splits;
  per = (per + kSliceAlign - 1) / kSliceAlign * kSliceAlign;
  const int active = (len + per - 1) / per;
  if (seq.skip(split, active)) return;
  const int start = split * per;
  const int end = min(len, start + per);
  const int32_t* pages = a.indices + seq_base;
  const int head0 = kvh * a.group + hg * GP;
  const int nheads = min(GP, a.group - hg * GP);

  const float ks = a.k_head_scale ? a.k_head_scale[kvh] : a.k_scale;
  // Softcap is decided once per launch (a uniform branch, not one per score) and divides by a
  // reciprocal: a true division costs a slow-path call site per score in the loop (SASS).
  const bool softcap = a.softcap > 0.f;
  const float smul = a.scale * ks * (softcap ? 1.f : kLog2e) * (C::kFp8 ? kFp8Unscale : 1.f);
  const float inv_cap = softcap ? 1.f / a.softcap : 0.f;
  const float cap_log2e = a.softcap * kLog2e;

  float m = -INFINITY, l = 0.f;  // head qrow: running max (log2 units) and this lane's sum
  float o[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.f;

  const int tiles = (end - start + TR - 1) / TR;
  // Warp tile i is slice tile tile_of(i): interleaved over warps, or all tiles (HEADS).
  const int my_tiles = HEADS ? tiles : tiles > warp ? (tiles - warp + kWarps - 1) / kWarps : 0;
  const int tstep = HEADS ? 1 : kWarps;
  const int toff = HEADS ? 0 : warp;
  uint8_t* const aligned = smem + (C::kAlign - smem_addr(smem) % C::kAlign) % C::kAlign;
  uint8_t* ring = aligned + warp * C::kWarpBytes;
  const int mask = (1 << a.block_shift) - 1;
  const int64_t head_off = int64_t(kvh) * a.stride_head;

  // Page ids travel through a per-warp shared ring by cp.async, fetched S-1 tiles ahead of the
  // tile that needs them, in the same commit group as an earlier tile's K/V: a dependent page
  // lookup never sits on the critical path of an iteration (fetched one iteration ahead into
  // registers instead, every iteration would wait a loaded-memory round trip for them).
  int32_t* pid = reinterpret_cast<int32_t*>(ring + S * C::kStageBytes);  // [kPidSlots, 16]
  // Tiles past the warp's last fetch nothing: the loop's final wait would otherwise wait a round
  // trip for their zero-byte copies.
  auto fetch_pids = [&](int i) {  // page ids of warp tile i -> its ring slot (lanes 0..15)
    if (lane < TR && i < my_tiles) {
      const int tok = start + (toff + tstep * i) * TR + lane;
      const bool ok = tok < end;
      int32_t* dst = pid + (i % C::kPidSlots) * TR + lane;
      const uint32_t sd = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
      const int32_t* src = ok ? pages + ((first + tok) >> a.block_shift) : pages;
      asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(sd), "l"(src),
                   "r"(ok ? 4 : 0));
    }
  };
  // Copy plan of this lane, the same for every tile: lane copies 16-byte chunk `lch` of rows
  // lrow + kRowsPerPass * j. Offsets are unsigned 32-bit per factor (the host checks that a
  // block and a token record are < 4 GiB), so a row's source offset is two wide multiply-adds;
  // masked rows keep a valid address (page id 0 or a real one, slot in range) and copy 0 bytes,
  // so no pointer select. A 64-bit signed offset costs ~37 SASS instructions per chunk, half of
  // the loop body; this form ~12.
  constexpr int kRowsPerPass = 32 / C::kChunksPerRow;
  const int lrow = lane / C::kChunksPerRow, lch = lane % C::kChunksPerRow;
  const uint32_t block_bytes = uint32_t(a.stride_block * C::kEs);
  const uint32_t token_bytes = uint32_t(a.stride_token * C::kEs);
  const uint64_t lane_src = uint64_t(head_off * C::kEs) + uint64_t(lch * 16);
  // Destination of chunk j in a stage: row lrow + kRowsPerPass*j. The swizzle repeats every 8
  // rows, so the offsets are kDstBases per-lane bases plus immediates (ptxas otherwise
  // recomputes the XOR for every chunk of every tile).
  constexpr int kDstPeriod = 8 / kRowsPerPass < 1 ? 1 : 8 / kRowsPerPass;
  constexpr int kDstBases = kDstPeriod < C::kChunksPerLane ? kDstPeriod : C::kChunksPerLane;
  constexpr int kPeriodBytes = kDstBases * kRowsPerPass * C::kRowBytes;  // chunk j -> j + kDstBases
  int dst_base[kDstBases], dst_vbase[kDstBases];  // K rows, V rows (equal for 16-bit KV)
#pragma unroll
  for (int j = 0; j < kDstBases; ++j) {
    const int r = lrow + kRowsPerPass * j;
    constexpr int CH = C::kChunksPerRow;
    dst_base[j] =
        C::kFp8 ? r * C::kRowBytes + fp8_kchunk<CH>(r, lch) * 16 : swz<C::kRowBytes>(r, lch);
    dst_vbase[j] = C::kFp8 ? r * C::kRowBytes + fp8_vchunk<CH>(r, lch) * 16 : dst_base[j];
  }
  const uint32_t ring_s = kept_per_thread(smem_addr(ring));  // see cp_async16 (ptxas)
  auto issue = [&](int i) {
    const uint32_t st_s = ring_s + (i % S) * C::kStageBytes;
    const uint64_t kv_policy = kv_l2_policy();  // K/V: evict first from L2
    const int32_t* tp = pid + (i % C::kPidSlots) * TR;
    const int row0 = start + (toff + tstep * i) * TR;
#pragma unroll
    for (int j = 0; j < C::kChunksPerLane; ++j) {
      const int r = lrow + kRowsPerPass * j;
      const int tok = row0 + r;
      const uint32_t slot = uint32_t(first + tok) & uint32_t(mask);
      const uint64_t off =
          uint64_t(uint32_t(tp[r])) * block_bytes + uint64_t(slot) * token_bytes + lane_src;
      const int bytes = tok < end ? 16 : 0;
      const int dst = dst_base[j % kDstBases] + (j / kDstBases) * kPeriodBytes;
      const int dstv = dst_vbase[j % kDstBases] + (j / kDstBases) * kPeriodBytes;
      if constexpr (C::kL2Hint) {
        cp_async16(st_s + dst, a.k + off, bytes, kv_policy);
        cp_async16(st_s + TR * C::kRowBytes + dstv, a.v + off, bytes, kv_policy);
      } else {
        uint8_t* st = ring + (i % S) * C::kStageBytes;
        cp_async16(st + dst, a.k + off, bytes);
        cp_async16(st + TR * C::kRowBytes + dstv, a.v + off, bytes);
      }
    }
  };

  // Prologue: page ids of tiles 0..LD-1 (one round trip), then those tiles' K/V, each group
  // also carrying the page ids of the tile LD further on.
  for (int i = 0; i < LD; ++i) fetch_pids(i);
  cp_async_commit();
  // q is loaded while the page ids are in flight: it is not on their dependency chain
  // (len -> page ids -> first tile), so it costs no round trip of its own.
  // Q as the A operand: row = head lane/4 (zero beyond nheads), a0: k = (lane%4)*2 + {0,1},
  // a2: k + 8; rows 8..15 (a1, a3) are zero. q is bf16 or f16 here (f32 q takes the CUDA-core
  // kernel); all of a lane's 16-bit elements are loaded before any is used, so they cost one
  // round trip: converting each k-step's right after its loads made ptxas wait for every k-step
  // in turn (D/16 dependent round trips, ~3 us of the prologue on H200).
  const int qrow = lane / 4;
  const int qk = (lane % 4) * 2;
  // fp8 KV permutes the k (= d) order of each k-step (the same for q and K, so S is unchanged):
  // k-step kk = 4c + t of lane group q4 = lane % 4 holds d = 16 (q4 + 4c) + 4t + {0, 1} (a0) and
  // + {2, 3} (a2), so that one 16-byte load of a K row gives a lane four k-steps' fragments.
  uint16_t qraw[D / 16][4] = {};
  if (qrow < nheads) {
    const uint16_t* qp = static_cast<const uint16_t*>(a.q) +
                         (int64_t(b) * a.num_q_heads + head0 + qrow) * D +
                         (C::kFp8 ? 16 * (lane % 4) : qk);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const int o0 = C::kFp8 ? 64 * (kk / 4) + 4 * (kk % 4) : kk * 16;
      const int o2 = C::kFp8 ? o0 + 2 : o0 + 8;
      qraw[kk][0] = qp[o0];
      qraw[kk][1] = qp[o0 + 1];
      qraw[kk][2] = qp[o2];
      qraw[kk][3] = qp[o2 + 1];
    }
  }
  const bool q_bf16 = a.q_kind == kQBF16;  // else f16 (converted when T differs: fp8 KV)
  auto qf = [&](uint16_t r) {
    return q_bf16 ? __uint_as_float(uint32_t(r) << 16) : __half2float(__ushort_as_half(r));
  };
  uint32_t qa[D / 16][4];  // A operand: rows 8..15 (a[1], a[3]) are zero
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    qa[kk][0] = M::pack(qf(qraw[kk][0]), qf(qraw[kk][1]));
    qa[kk][1] = 0u;
    qa[kk][2] = M::pack(qf(qraw[kk][2]), qf(qraw[kk][3]));
    qa[kk][3] = 0u;
  }
  cp_async_wait<0>();
  __syncwarp();
#pragma unroll
  for (int i = 0; i < LD; ++i) {
    if (i < my_tiles) issue(i);
    fetch_pids(i + LD);
    cp_async_commit();
  }
  auto refill = [&](int i) {  // the next tile into the stage freed by tile i - (S - LD)
    if (i + LD < my_tiles) issue(i + LD);
    fetch_pids(i + 2 * LD);
    cp_async_commit();
  };
  // ldmatrix byte offsets of this lane inside a 16-bit tile. k-step kk reads chunk 2*kk + c of
  // row t (c = 0/1); the swizzle XORs the chunk's low 3 bits with t & 7 = lane & 7, so chunk
  // 2*kk + c = 8*(kk/4) + (2*(kk%4) + c) lands at base[kk%4] + 128*(kk/4): four per-lane bases
  // and a compile-time immediate (indexing koff[kk] made ptxas recompute ~110 integer ops per
  // tile).
  // V rows of ldmatrix.trans (both KV kinds): lanes 8m..8m+7 address matrix m's 8 rows, matrices
  // 0/1 = tokens 0..7 / 8..15 of one chunk pair's first chunk, 2/3 the same of its second.
  const int vtok = ((lane / 8) & 1) * 8 + lane % 8, vch = lane / 16;
  uint32_t kbase[4], vbase[4];
  {
    const int ktok = (lane / 16) * 8 + lane % 8, kch = (lane / 8) & 1;  // K rows
#pragma unroll
    for (int lo = 0; lo < 4; ++lo) {
      kbase[lo] = swz<C::kRowBytes>(ktok, 2 * lo + kch);
      vbase[lo] = swz<C::kRowBytes>(vtok, 2 * lo + vch);
    }
  }
  // fp8 tiles: this lane's K row (token lane/4, + 8 rows for the second n-tile: same parity)
  // and V ldmatrix row, as a base and a chunk XOR (fp8_kchunk / fp8_vchunk: chunk c' = c ^ x;
  // K chunk lane%4 + 4c, V chunk 2g + lane/16 with lane/16 in bit 0). Two registers each, not
  // one per chunk group: the D = 256 kernel has none to spare (255 in use).
  const int k8row = (lane / 4) * C::kRowBytes + 16 * (lane % 4);
  const int k8x = fp8_kchunk<C::kChunksPerRow>(lane / 4, 0) / 4;  // 1 on odd tokens (XOR 4)
  const int v8row = vtok * C::kRowBytes;
  const int v8x = fp8_vchunk<C::kChunksPerRow>(vtok, vch);
  auto k8off = [&](int c) { return k8row + 64 * (c ^ k8x); };
  auto v8off = [&](int g) { return v8row + 16 * ((2 * g) ^ v8x); };

  for (int i = 0; i < my_tiles; ++i) {
    // Tile i (and the page ids of tile i+LD, which rode in its group) have landed.
    cp_async_wait<LD - 1>();
    __syncwarp();
    if constexpr (!C::kEarlyRelease) refill(i);

    const uint8_t* st = ring + (i % S) * C::kStageBytes;
    const uint32_t sk_s = smem_addr(st);
    const uint32_t sv_s = sk_s + TR * C::kRowBytes;
    const int row0 = start + (toff + tstep * i) * TR;

    // 16-bit KV: K and V fragments by ldmatrix (B operands of S = Q K^T, two n-tiles of 8 tokens
    // per k-step, and of O += P V, .trans). fp8 KV: raw bytes, converted on the way into the mma
    // (e4m3x2_to_f16x2_scaled): K rows by 16-byte loads (kword: four k-steps each), V by
    // ldmatrix.trans of byte pairs (load_vw). With early release all are read before the refill.
    constexpr int KF = C::kEarlyRelease && !C::kFp8 ? D / 16 : 1;  // fragments held at once
    constexpr int KW = C::kFp8 && C::kEarlyRelease ? D / 64 : 1;   // fp8 K chunk groups held
    constexpr int VW = C::kFp8 && C::kEarlyRelease ? D / 32 : 1;   // fp8 V ldmatrix x4 held
    uint32_t kb[KF][4], vb[KF][4];
    constexpr int NS = C::kNTiles;  // S n-tiles; PV takes them in k-steps of 16 tokens
    uint4 kw[NS][KW];
    uint32_t vw[NS / 2][VW][4];
    auto kword = [&](int nt, int c) {  // fp8 K: token nt*8 + lane/4, chunk lane%4 + 4c
      return *reinterpret_cast<const uint4*>(st + k8off(c) + nt * 8 * C::kRowBytes);
    };
    auto load_vw = [&](int ks, int g, int slot) {  // fp8 V: chunks 2g, 2g+1, tokens 16ks + 0..15
      ldmatrix_x4_trans(vw[ks][slot], sv_s + v8off(g) + ks * 16 * C::kRowBytes);
    };
    if constexpr (KF > 1) {
#pragma unroll
      for (int kk = 0; kk < KF; ++kk) {
        ldmatrix_x4(kb[kk], sk_s + kbase[kk % 4] + 128 * (kk / 4));
        ldmatrix_x4_trans(vb[kk], sv_s + vbase[kk % 4] + 128 * (kk / 4));
      }
      __syncwarp();
    }
    if constexpr (C::kFp8 && C::kEarlyRelease) {
#pragma unroll
      for (int c = 0; c < KW; ++c)
#pragma unroll
        for (int nt = 0; nt < NS; ++nt) kw[nt][c] = kword(nt, c);
#pragma unroll
      for (int ks = 0; ks < NS / 2; ++ks)
#pragma unroll
        for (int g = 0; g < VW; ++g) load_vw(ks, g, g);
      __syncwarp();
    }
    if constexpr (C::kEarlyRelease) refill(i);

    float s[NS][4];
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
    if constexpr (C::kFp8) {
      // One 16-byte load per (n-tile, chunk group c) holds k-steps 4c..4c+3 (4 bytes each).
#pragma unroll
      for (int c = 0; c < D / 64; ++c)
#pragma unroll
        for (int nt = 0; nt < NS; ++nt) {
          const uint4 w4 = C::kEarlyRelease ? kw[nt][KW > 1 ? c : 0] : kword(nt, c);
          const uint32_t w[4] = {w4.x, w4.y, w4.z, w4.w};
#pragma unroll
          for (int t = 0; t < 4; ++t)
            M::mma(s[nt], qa[4 * c + t], fp8_pair(w[t], kPermLoPair), fp8_pair(w[t], kPermHiPair));
        }
    } else {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        uint32_t* f = kb[KF > 1 ? kk : 0];
        if constexpr (KF == 1) ldmatrix_x4(kb[0], sk_s + kbase[kk % 4] + 128 * (kk / 4));
        M::mma(s[0], qa[kk], f[0], f[1]);
        M::mma(s[1], qa[kk], f[2], f[3]);
      }
    }
    // Online softmax for head qrow over tokens row0 + nt*8 + qk + {0,1}.
    float mt = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < NS; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float x = s[nt][e] * smul;
        if (softcap) x = cap_log2e * tanhf(x * inv_cap);
        x = row0 + nt * 8 + qk + e < end ? x : -INFINITY;
        s[nt][e] = x;
        mt = fmaxf(mt, x);
      }
    mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
    mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 2));
    const float mn = fmaxf(m, mt);  // finite: token row0 is visible
    const float alpha = fast_exp2(m - mn);
    m = mn;
    float ps = 0.f;
#pragma unroll
    for (int nt = 0; nt < NS; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        s[nt][e] = fast_exp2(s[nt][e] - mn);
        ps += s[nt][e];
      }
    l = l * alpha + ps;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      o[nt][0] *= alpha;
      o[nt][1] *= alpha;
    }
    // O += P V, one k-step per 16 tokens: P's accumulator layout is the A operand's (rows 8..15
    // zero).
#pragma unroll
    for (int ks = 0; ks < NS / 2; ++ks) {
      const uint32_t pa[4] = {M::pack(s[2 * ks][0], s[2 * ks][1]), 0u,
                              M::pack(s[2 * ks + 1][0], s[2 * ks + 1][1]), 0u};
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        if constexpr (C::kFp8) {
          // Register 2h / 2h+1 of load g: tokens 0..7 / 8..15 (of this k-step) of chunk 2g+h, as
          // byte pairs (token 2q4: dims 2w, 2w+1 | token 2q4+1: dims 2w, 2w+1), w = lane/4. The
          // even bytes are the B operand of dims 16 dp + 2w (n-tile 2 dp), the odd ones of
          // 16 dp + 2w + 1.
          const int g = dp / 2, h = dp % 2, slot = VW > 1 ? g : 0;
          if (!C::kEarlyRelease && h == 0) load_vw(ks, g, slot);
          const uint32_t lo = vw[ks][slot][2 * h], hi = vw[ks][slot][2 * h + 1];
          M::mma(o[2 * dp], pa, fp8_pair(lo, kPermEvenBytes), fp8_pair(hi, kPermEvenBytes));
          M::mma(o[2 * dp + 1], pa, fp8_pair(lo, kPermOddBytes), fp8_pair(hi, kPermOddBytes));
        } else {
          uint32_t* f = vb[KF > 1 ? dp : 0];
          if constexpr (KF == 1) ldmatrix_x4_trans(vb[0], sv_s + vbase[dp % 4] + 128 * (dp / 4));
          M::mma(o[2 * dp], pa, f[0], f[1]);
          M::mma(o[2 * dp + 1], pa, f[2], f[3]);
        }
      }
    }
    __syncwarp();
  }
  cp_async_wait<0>();
  if constexpr (C::kFp8) {  // V came in 2^-8 times its value (e4m3x2_to_f16x2_scaled)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      o[nt][0] *= kFp8Unscale;
      o[nt][1] *= kFp8Unscale;
    }
  }

  // The 4 lanes of a head row hold disjoint tokens' sums.
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  if constexpr (HEADS) {
    finish_warp<D, GP, C::kFp8>(a, o, m, l, split, active, unit, kvh, b, head0, nheads,
                                reinterpret_cast<float*>(ring));
    return;
  }

  __syncthreads();
  float* wacc = reinterpret_cast<float*>(smem);  // [kWarps, GP, D]
  float* wm = wacc + kWarps * GP * D;            // [kWarps, GP]
  float* wl = wm + kWarps * GP;                  // [kWarps, GP]
  if (qrow < GP) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      wacc[(warp * GP + qrow) * D + out_dim<C::kFp8>(nt, 0, lane % 4)] = o[nt][0];
      wacc[(warp * GP + qrow) * D + out_dim<C::kFp8>(nt, 1, lane % 4)] = o[nt][1];
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
