// The CPU decode engine: online softmax over tiles of kTile visible tokens, one work item per
// (sequence, KV split, group of kv heads), all G query heads of a kv head sharing each K/V row
// load, then a log-sum-exp merge of the splits. SIMD through Highway (static dispatch: the target
// chosen at compile time, AVX-512 with -march=native here, SSE/NEON/scalar elsewhere), plus a
// vdpbf16ps path for bf16 q x bf16 K where the compiler targets AVX512_BF16.
//
// Cost model: decode is memory bound (MHA) or close to it (GQA). Each tile's K and V rows of the
// item's kv heads are read from memory exactly once, token by token (one contiguous run per token
// in NHD, so every block is read front to back and the hardware prefetcher never runs into a
// neighbouring block the table does not list), into a per-thread staging buffer (L1/L2): f32 for
// f32/f16 pools, raw bf16 for the bf16 path. The G dot products and G FMA updates per row then run
// out of cache. The next tile's runs are prefetched while the current one is staged.
// Tile boundaries are counted in visible-token index from the split start, never in blocks, so the
// block layout cannot change the arithmetic: that is what makes the output placement invariant
// (and bit-identical between paged, gather and dense).

#include "attention/decode_cpu_engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

// Static dispatch only: the build picks one target (-march=native here), no runtime dispatch.
#define HWY_COMPILE_ONLY_STATIC 1
#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#if defined(__AVX512BF16__) && HWY_TARGET <= HWY_AVX3
#include <immintrin.h>
#define PAGEDKV_BF16_DOT 1
#else
#define PAGEDKV_BF16_DOT 0
#endif

HWY_BEFORE_NAMESPACE();
namespace pagedkv::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
constexpr int32_t kTile = 16;  // tokens per online-softmax step

struct WorkItem {
  int32_t b, h0, h1, t0, t1;
};

// Partial result of a work item for its G query heads: [G, D + 2] = unnormalized acc, then m, l.
inline size_t partial_stride(int32_t D) { return size_t(D) + 2; }

// Widen one row of D elements to f32.
template <typename KT, int D>
HWY_INLINE void row_to_f32(const KT* HWY_RESTRICT src, float* HWY_RESTRICT dst) {
  const DF df;
  const size_t N = hn::Lanes(df);
  if constexpr (std::is_same_v<KT, float>) {
    for (size_t i = 0; i < size_t(D); i += N) hn::StoreU(hn::LoadU(df, src + i), df, dst + i);
  } else {
    using HT =
        std::conditional_t<std::is_same_v<KT, hwy::bfloat16_t>, hwy::bfloat16_t, hwy::float16_t>;
    const hn::Rebind<HT, DF> dh;
    for (size_t i = 0; i < size_t(D); i += N) {
      hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, src + i)), df, dst + i);
    }
  }
}

// out[0..4) = horizontal sums of a0..a3. Two interleave rounds leave, in every 128-bit block,
// the four partial sums side by side; the blocks are then added. ~3 ops per sum instead of a
// full reduction tree per vector (the logits of a GQA group are bound by these reductions).
template <class V>
HWY_INLINE void sum4(V a0, V a1, V a2, V a3, float* HWY_RESTRICT out) {
  const DF df;
#if HWY_TARGET == HWY_SCALAR
  out[0] = hn::GetLane(a0);
  out[1] = hn::GetLane(a1);
  out[2] = hn::GetLane(a2);
  out[3] = hn::GetLane(a3);
  (void)df;
#else
  const hn::Repartition<uint64_t, DF> du64;
  // Per block: [a0_0+a0_2, a1_0+a1_2, a0_1+a0_3, a1_1+a1_3] and the same for a2, a3.
  const V t01 = hn::Add(hn::InterleaveLower(df, a0, a1), hn::InterleaveUpper(df, a0, a1));
  const V t23 = hn::Add(hn::InterleaveLower(df, a2, a3), hn::InterleaveUpper(df, a2, a3));
  // Per block: [sum a0, sum a1, sum a2, sum a3] over the block's four lanes.
  const auto w01 = hn::BitCast(du64, t01), w23 = hn::BitCast(du64, t23);
  const V u = hn::Add(hn::BitCast(df, hn::InterleaveLower(du64, w01, w23)),
                      hn::BitCast(df, hn::InterleaveUpper(du64, w01, w23)));
  HWY_ALIGN float blocks[hn::MaxLanes(DF())];
  hn::Store(u, df, blocks);
  const hn::Full128<float> d4;
  auto r = hn::Load(d4, blocks);
  for (size_t b = 4; b < hn::Lanes(df); b += 4) r = hn::Add(r, hn::Load(d4, blocks + b));
  hn::StoreU(r, d4, out);
#endif
}

// Per-thread scratch, sized for the largest item seen. Each kv head's query rows are padded to a
// multiple of kHeadBlock so the PV loop always updates kHeadBlock accumulators (padding heads keep
// p = 0 and their rows are never read back).
constexpr int32_t kHeadBlock = 4;
inline int32_t padded_group(int32_t G) { return (G + kHeadBlock - 1) / kHeadBlock * kHeadBlock; }

struct Scratch {
  // kf / vf: staged K / V rows [heads, kTile, D] (f32, or raw bf16 in the first half).
  std::vector<float> q, acc, kf, vf, scores, m, l;
  void reserve(int32_t heads, int32_t G, int32_t D) {
    const size_t rows = size_t(heads) * padded_group(G);
    q.resize(rows * D);
    acc.resize(rows * D);
    kf.resize(size_t(heads) * kTile * D);
    vf.resize(size_t(heads) * kTile * D);
    scores.resize(rows * kTile);
    m.resize(rows);
    l.resize(rows);
  }
};

// Element offsets (of head 0, dim 0) of the next n visible tokens.
struct TokenCursor {
  // paged
  const int32_t* blocks = nullptr;
  int64_t stride_block = 0;
  int32_t block_size = 0, block_pos = 0, slot = 0;
  // both
  int64_t stride_token = 0;
  int64_t t = 0;

  template <bool kPaged>
  HWY_INLINE void next(int32_t n, int64_t* off) {
    for (int32_t i = 0; i < n; ++i) {
      if constexpr (kPaged) {
        off[i] = int64_t(blocks[block_pos]) * stride_block + int64_t(slot) * stride_token;
        if (++slot == block_size) {
          slot = 0;
          ++block_pos;
        }
      } else {
        off[i] = (t + i) * stride_token;
      }
    }
    t += n;
  }
};

// Software prefetch (into L2) of one token's K and V run (the item's kv heads, adjacent in NHD)
// of a later tile. In a paged pool the next block can be anywhere, so the hardware prefetcher
// cannot run ahead across the block boundary. Issued one token at a time while the current tile
// is staged, so the prefetches are spread instead of flooding the miss queues.
HWY_INLINE void prefetch_run(const void* k, const void* v, size_t bytes) {
  const char* kr = static_cast<const char*>(k);
  const char* vr = static_cast<const char*>(v);
  for (size_t b = 0; b < bytes; b += 64) {
    __builtin_prefetch(kr + b, 0, 2);
    __builtin_prefetch(vr + b, 0, 2);
  }
}

// N lanes of a row as f32.
HWY_INLINE hn::Vec<DF> load_f32(DF df, const float* p) { return hn::LoadU(df, p); }
HWY_INLINE hn::Vec<DF> load_f32(DF df, const hwy::bfloat16_t* p) {
  return hn::PromoteTo(df, hn::LoadU(hn::Rebind<hwy::bfloat16_t, DF>(), p));
}

// Logits of G query heads (f32, pre-scaled) against n f32 K rows: 4 tokens at a time share
// each q load; 4-way interleaved horizontal sums.
template <int D>
HWY_INLINE void tile_logits(const float* HWY_RESTRICT qf, const float* const* krow_in, int32_t n,
                            int32_t G, float* HWY_RESTRICT sc) {
  const DF df;
  const size_t N = hn::Lanes(df);
  const float* krow[kTile];
  for (int32_t i = 0; i < n; ++i) krow[i] = krow_in[i];
  for (int32_t i = n; i < kTile; ++i) krow[i] = krow[0];  // padding: computed, then masked
  const int32_t n4 = (n + 3) & ~3;
  for (int32_t g = 0; g < G; ++g) {
    float* row = sc + g * kTile;
    const float* qg = qf + g * D;
    for (int32_t i = 0; i < n4; i += 4) {
      auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
      for (size_t c = 0; c < size_t(D); c += N) {
        const auto qv = hn::LoadU(df, qg + c);
        a0 = hn::MulAdd(qv, hn::LoadU(df, krow[i] + c), a0);
        a1 = hn::MulAdd(qv, hn::LoadU(df, krow[i + 1] + c), a1);
        a2 = hn::MulAdd(qv, hn::LoadU(df, krow[i + 2] + c), a2);
        a3 = hn::MulAdd(qv, hn::LoadU(df, krow[i + 3] + c), a3);
      }
      sum4(a0, a1, a2, a3, row + i);
    }
  }
}

#if PAGEDKV_BF16_DOT
// bf16 q and bf16 K on CPUs with AVX512_BF16: vdpbf16ps multiplies bf16 pairs exactly and
// accumulates in f32, 32 products per instruction, with no widening pass over K. The scale is
// applied to the logits afterwards (q stays as stored).
template <int D>
HWY_INLINE void tile_logits_bf16(const uint16_t* HWY_RESTRICT qb, const uint16_t* const* krow_in,
                                 int32_t n, int32_t G, float scale, float* HWY_RESTRICT sc) {
  static_assert(D % 32 == 0);
  const DF df;
  const uint16_t* krow[kTile];
  for (int32_t i = 0; i < n; ++i) krow[i] = krow_in[i];
  for (int32_t i = n; i < kTile; ++i) krow[i] = krow[0];
  const int32_t n4 = (n + 3) & ~3;
  const auto vscale = hn::Set(df, scale);
  for (int32_t g = 0; g < G; ++g) {
    float* row = sc + g * kTile;
    const uint16_t* qg = qb + g * D;
    for (int32_t i = 0; i < n4; i += 4) {
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int32_t c = 0; c < D; c += 32) {
        const __m512bh qv = (__m512bh)_mm512_loadu_si512(qg + c);
        a0 = _mm512_dpbf16_ps(a0, qv, (__m512bh)_mm512_loadu_si512(krow[i] + c));
        a1 = _mm512_dpbf16_ps(a1, qv, (__m512bh)_mm512_loadu_si512(krow[i + 1] + c));
        a2 = _mm512_dpbf16_ps(a2, qv, (__m512bh)_mm512_loadu_si512(krow[i + 2] + c));
        a3 = _mm512_dpbf16_ps(a3, qv, (__m512bh)_mm512_loadu_si512(krow[i + 3] + c));
      }
      sum4(hn::Vec512<float>{a0}, hn::Vec512<float>{a1}, hn::Vec512<float>{a2},
           hn::Vec512<float>{a3}, row + i);
    }
    for (int32_t i = 0; i < kTile; i += int32_t(hn::Lanes(df))) {
      hn::StoreU(hn::Mul(hn::LoadU(df, row + i), vscale), df, row + i);
    }
  }
}
#endif

// The rest of one online-softmax step of one kv head over a tile of n tokens, once the logits
// sc[G, kTile] are in: softcap, rescale, accumulate p * V (V rows already f32 at vrow[i]).
// VT: float (rows already f32) or hwy::bfloat16_t (raw rows, widened here once per token and
// chunk for every kHeadBlock heads, which saves an f32 copy of V through the cache).
template <int D, typename VT = float>
HWY_INLINE void tile_softmax_pv(const VT* const* vrow, int32_t n, int32_t G, float cap,
                                float* HWY_RESTRICT acc, float* HWY_RESTRICT sc,
                                float* HWY_RESTRICT m, float* HWY_RESTRICT l) {
  const DF df;
  const size_t N = hn::Lanes(df);
  const int32_t Gp = padded_group(G);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int32_t g = 0; g < G; ++g) {
    float* row = sc + g * kTile;
    if (cap > 0.0f) {
      const auto vcap = hn::Set(df, cap), vinv = hn::Set(df, 1.0f / cap);
      for (int32_t i = 0; i < kTile; i += int32_t(N)) {
        const auto x = hn::Mul(hn::LoadU(df, row + i), vinv);
        hn::StoreU(hn::Mul(vcap, hn::Tanh(df, x)), df, row + i);
      }
    }
    for (int32_t i = n; i < kTile; ++i) row[i] = neg_inf;
  }
  // Online softmax: rescale factor alpha per head, probabilities in place of the logits.
  float alpha_small[32];
  std::vector<float> alpha_big;
  float* al = alpha_small;
  if (Gp > 32) {
    alpha_big.resize(Gp);
    al = alpha_big.data();
  }
  for (int32_t g = 0; g < Gp; ++g) al[g] = 1.0f;
  for (int32_t g = 0; g < G; ++g) {
    float* row = sc + g * kTile;
    float tile_max = row[0];
    for (int32_t i = 1; i < n; ++i) tile_max = std::max(tile_max, row[i]);
    const float m_new = std::max(m[g], tile_max);
    al[g] = std::exp(m[g] - m_new);  // 0 on the first tile (m = -inf)
    const auto vm = hn::Set(df, m_new);
    auto psum = hn::Zero(df);
    for (int32_t i = 0; i < kTile; i += int32_t(N)) {
      // Padding lanes hold -inf: Exp returns 0 below its range, so they add nothing.
      const auto p = hn::Exp(df, hn::Sub(hn::LoadU(df, row + i), vm));
      hn::StoreU(p, df, row + i);
      psum = hn::Add(psum, p);
    }
    l[g] = l[g] * al[g] + hn::GetLane(hn::SumOfLanes(df, psum));
    m[g] = m_new;
  }
  // acc[g] = alpha[g] * acc[g] + sum_i p[g][i] * V[i]: kHeadBlock heads share each V load.
  for (int32_t g = 0; g < Gp; g += kHeadBlock) {
    const float* p0 = sc + g * kTile;
    const float* p1 = p0 + kTile;
    const float* p2 = p1 + kTile;
    const float* p3 = p2 + kTile;
    float* a = acc + size_t(g) * D;
    for (size_t c = 0; c < size_t(D); c += N) {
      auto x0 = hn::Mul(hn::LoadU(df, a + c), hn::Set(df, al[g]));
      auto x1 = hn::Mul(hn::LoadU(df, a + D + c), hn::Set(df, al[g + 1]));
      auto x2 = hn::Mul(hn::LoadU(df, a + 2 * D + c), hn::Set(df, al[g + 2]));
      auto x3 = hn::Mul(hn::LoadU(df, a + 3 * D + c), hn::Set(df, al[g + 3]));
      for (int32_t i = 0; i < n; ++i) {
        const auto v = load_f32(df, vrow[i] + c);
        x0 = hn::MulAdd(hn::Set(df, p0[i]), v, x0);
        x1 = hn::MulAdd(hn::Set(df, p1[i]), v, x1);
        x2 = hn::MulAdd(hn::Set(df, p2[i]), v, x2);
        x3 = hn::MulAdd(hn::Set(df, p3[i]), v, x3);
      }
      hn::StoreU(x0, df, a + c);
      hn::StoreU(x1, df, a + D + c);
      hn::StoreU(x2, df, a + 2 * D + c);
      hn::StoreU(x3, df, a + 3 * D + c);
    }
  }
}

// One work item: tokens [t0, t1) of sequence b, kv heads [h0, h1). The tile loop walks tokens;
// inside a tile every kv head of the item is processed, so each token's K/V run (the item's heads
// are adjacent in NHD) is read once, front to back.
// kBf16Dot: q and K are bf16 and the logits use vdpbf16ps (K staged as raw bf16, q kept as
// stored); otherwise q is widened to f32 and pre-scaled, K widened to f32.
template <typename KT, int D, bool kPaged, bool kBf16Dot>
void attend_item(const CpuDecodeJob& j, const WorkItem& w, Scratch& s, float* HWY_RESTRICT part) {
  const int32_t G = j.num_q_heads / j.num_kv_heads;
  const int32_t Gp = padded_group(G);
  const int32_t heads = w.h1 - w.h0;
  s.reserve(heads, G, D);
  // Per kv head hh of the item, rows [hh * Gp, hh * Gp + G) of:
  float* qf = s.q.data();       // [heads * Gp, D], pre-multiplied by scale (kBf16Dot: raw bf16)
  float* acc = s.acc.data();    // [heads * Gp, D] unnormalized output
  float* sc = s.scores.data();  // [heads * Gp, kTile] logits, then probabilities
  for (int32_t hh = 0; hh < heads; ++hh) {
    for (int32_t g = 0; g < G; ++g) {
      const size_t qbase = (size_t(w.b) * j.num_q_heads + size_t(w.h0 + hh) * G + g) * D;
      if constexpr (kBf16Dot) {
        uint16_t* dst = reinterpret_cast<uint16_t*>(qf) + (size_t(hh) * Gp + g) * D;
        std::memcpy(dst, static_cast<const uint16_t*>(j.q) + qbase, sizeof(uint16_t) * D);
      } else {
        float* dst = qf + (size_t(hh) * Gp + g) * D;
        for (int32_t d = 0; d < D; ++d) dst[d] = load_as_f32(j.q, j.q_dtype, qbase + d) * j.scale;
      }
    }
  }
  std::fill(s.m.begin(), s.m.end(), -std::numeric_limits<float>::infinity());
  std::fill(s.l.begin(), s.l.end(), 0.0f);
  std::fill(s.acc.begin(), s.acc.end(), 0.0f);
  std::fill(s.scores.begin(), s.scores.end(), 0.0f);  // padding heads keep p = 0

  const KT* kbase;
  const KT* vbase;
  TokenCursor cur;
  cur.stride_token = j.stride_token;
  if constexpr (kPaged) {
    kbase = static_cast<const KT*>(j.k_pool) + w.h0 * j.stride_head;
    vbase = static_cast<const KT*>(j.v_pool) + w.h0 * j.stride_head;
    const int64_t pos = int64_t(j.first_offset[w.b]) + w.t0;
    cur.blocks = j.indices + j.indptr[w.b];
    cur.stride_block = j.stride_block;
    cur.block_size = j.block_size;
    cur.block_pos = int32_t(pos / j.block_size);
    cur.slot = int32_t(pos % j.block_size);
  } else {
    kbase = static_cast<const KT*>(j.seq_k[w.b]) + w.h0 * j.stride_head;
    vbase = static_cast<const KT*>(j.seq_v[w.b]) + w.h0 * j.stride_head;
    cur.t = w.t0;
  }

  // Token offsets of the current and the next tile; the next one is prefetched while the
  // current one is staged.
  int64_t off_ring[2][kTile];
  const float* krow[kTile];
  const float* vrow[kTile];
  const int32_t len = w.t1 - w.t0;
  const int32_t num_tiles = (len + kTile - 1) / kTile;
  auto tile_count = [&](int32_t k) { return std::min(kTile, len - k * kTile); };
  const int64_t sh = j.stride_head;
  const size_t run_bytes = sizeof(KT) * size_t((heads - 1) * sh + D);
  cur.next<kPaged>(tile_count(0), off_ring[0]);
  for (int32_t k = 0; k < num_tiles; ++k) {
    const int32_t n = tile_count(k);
    const int64_t* off = off_ring[k & 1];
    int64_t* off_next = off_ring[(k + 1) & 1];
    const int32_t n_next = k + 1 < num_tiles ? tile_count(k + 1) : 0;
    if (n_next > 0) cur.next<kPaged>(n_next, off_next);
    // Stage: widen the tile's K and V rows of all the item's heads to f32, token by token, so
    // each token's run (heads adjacent in NHD) and each block is read front to back, once.
    // f32 pools are read in place instead.
    for (int32_t i = 0; i < n; ++i) {
      if (i < n_next) prefetch_run(kbase + off_next[i], vbase + off_next[i], run_bytes);
      if constexpr (!std::is_same_v<KT, float>) {
        for (int32_t hh = 0; hh < heads; ++hh) {
          const size_t r = (size_t(hh) * kTile + i) * D;
          if constexpr (kBf16Dot) {
            std::memcpy(reinterpret_cast<uint16_t*>(s.kf.data()) + r, kbase + off[i] + hh * sh,
                        sizeof(uint16_t) * D);
          } else {
            row_to_f32<KT, D>(kbase + off[i] + hh * sh, s.kf.data() + r);
          }
          if constexpr (kBf16Dot) {
            std::memcpy(reinterpret_cast<uint16_t*>(s.vf.data()) + r, vbase + off[i] + hh * sh,
                        sizeof(uint16_t) * D);
          } else {
            row_to_f32<KT, D>(vbase + off[i] + hh * sh, s.vf.data() + r);
          }
        }
      }
    }
    for (int32_t hh = 0; hh < heads; ++hh) {
      for (int32_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<KT, float>) {
          krow[i] = kbase + off[i] + hh * sh;
          vrow[i] = vbase + off[i] + hh * sh;
        } else {
          krow[i] = s.kf.data() + (size_t(hh) * kTile + i) * D;
          vrow[i] = s.vf.data() + (size_t(hh) * kTile + i) * D;
        }
      }
      const size_t r = size_t(hh) * Gp;
      if constexpr (kBf16Dot) {
#if PAGEDKV_BF16_DOT
        const uint16_t* kb[kTile];
        for (int32_t i = 0; i < n; ++i) {
          kb[i] = reinterpret_cast<const uint16_t*>(s.kf.data()) + (size_t(hh) * kTile + i) * D;
        }
        tile_logits_bf16<D>(reinterpret_cast<const uint16_t*>(qf) + r * D, kb, n, G, j.scale,
                            sc + r * kTile);
#endif
      } else {
        tile_logits<D>(qf + r * D, krow, n, G, sc + r * kTile);
      }
      if constexpr (kBf16Dot) {
        const hwy::bfloat16_t* vb[kTile];
        for (int32_t i = 0; i < n; ++i) {
          vb[i] =
              reinterpret_cast<const hwy::bfloat16_t*>(s.vf.data()) + (size_t(hh) * kTile + i) * D;
        }
        tile_softmax_pv<D, hwy::bfloat16_t>(vb, n, G, j.softcap, acc + r * D, sc + r * kTile,
                                            s.m.data() + r, s.l.data() + r);
        continue;
      }
      tile_softmax_pv<D>(vrow, n, G, j.softcap, acc + r * D, sc + r * kTile, s.m.data() + r,
                         s.l.data() + r);
    }
  }
  // Partial result rows in query-head order: [heads * G, D + 2].
  const size_t ps = partial_stride(D);
  for (int32_t hh = 0; hh < heads; ++hh) {
    for (int32_t g = 0; g < G; ++g) {
      const size_t r = size_t(hh) * Gp + g;
      float* dst = part + (size_t(hh) * G + g) * ps;
      std::copy(acc + r * D, acc + (r + 1) * D, dst);
      dst[D] = s.m[r];
      dst[D + 1] = s.l[r];
    }
  }
}

using ItemFn = void (*)(const CpuDecodeJob&, const WorkItem&, Scratch&, float*);

template <typename KT, bool kPaged, bool kBf16Dot = false>
ItemFn pick_head_dim(int32_t D) {
  switch (D) {
    case 64:
      return &attend_item<KT, 64, kPaged, kBf16Dot>;
    case 80:
      return &attend_item<KT, 80, kPaged, false>;  // not a multiple of 32 bf16 pairs
    case 96:
      return &attend_item<KT, 96, kPaged, kBf16Dot>;
    case 128:
      return &attend_item<KT, 128, kPaged, kBf16Dot>;
    case 256:
      return &attend_item<KT, 256, kPaged, kBf16Dot>;
  }
  fail(ErrorKind::kUnsupported, str_cat("CPU decode: head_dim ", D, " is not supported"));
}

// DISPATCH: (KV dtype, head dim, addressing) -> one compile-time specialization.
template <bool kPaged>
ItemFn pick(DType q, DType kv, int32_t D) {
  switch (kv) {
    case DType::kF32:
      return pick_head_dim<float, kPaged>(D);
    case DType::kBF16:
      if (PAGEDKV_BF16_DOT && q == DType::kBF16) {
        return pick_head_dim<hwy::bfloat16_t, kPaged, PAGEDKV_BF16_DOT != 0>(D);
      }
      return pick_head_dim<hwy::bfloat16_t, kPaged>(D);
    case DType::kF16:
      return pick_head_dim<hwy::float16_t, kPaged>(D);
    default:
      break;
  }
  fail(ErrorKind::kUnsupported,
       str_cat("CPU decode: KV dtype ", dtype_name(kv), " is not supported (f32, f16, bf16)"));
}

void run(const CpuDecodeJob& j, const CpuDecodeOptions& opt) {
  const int32_t B = j.batch_size, Hkv = j.num_kv_heads, D = j.head_dim;
  if (B == 0) return;
  const int32_t G = j.num_q_heads / Hkv;
  PKV_CHECK(D % int32_t(hn::Lanes(DF())) == 0, Internal, "CPU decode: head_dim ", D,
            " is not a multiple of the SIMD width");
  const ItemFn fn =
      j.paged ? pick<true>(j.q_dtype, j.kv_dtype, D) : pick<false>(j.q_dtype, j.kv_dtype, D);
  ThreadPool& pool = opt.pool ? *opt.pool : ThreadPool::global();

  // Plan. KV split per sequence: a function of the visible lengths, the thread count and the
  // options only (it changes the arithmetic, so it must not depend on block placement). Then kv
  // heads are cut into groups only if there are still too few items to keep every thread busy
  // (head grouping does not change any result: heads are independent).
  const int64_t target_items = 4 * int64_t(pool.num_threads());
  const int32_t max_splits = opt.max_splits > 0
                                 ? opt.max_splits
                                 : int32_t(std::max<int64_t>(1, (target_items + B - 1) / B));
  const int32_t min_tokens = std::max(opt.min_split_tokens, kTile);
  std::vector<int32_t> splits(B), chunk(B), split_start(B + 1, 0);
  for (int32_t b = 0; b < B; ++b) {
    const int32_t len = j.visible_len[b];
    int32_t ns = std::clamp((len + min_tokens - 1) / min_tokens, 1, max_splits);
    int32_t c = (len + ns - 1) / ns;
    c = (c + kTile - 1) / kTile * kTile;
    splits[b] = (len + c - 1) / c;
    chunk[b] = c;
    split_start[b + 1] = split_start[b] + splits[b];
  }
  const int32_t total_splits = split_start[B];
  const int32_t head_groups =
      int32_t(std::clamp<int64_t>((target_items + total_splits - 1) / total_splits, 1, Hkv));
  std::vector<WorkItem> items;
  items.reserve(size_t(total_splits) * head_groups);
  for (int32_t b = 0; b < B; ++b) {
    const int32_t len = j.visible_len[b];
    for (int32_t sidx = 0; sidx < splits[b]; ++sidx) {
      for (int32_t hg = 0; hg < head_groups; ++hg) {
        items.push_back({b, int32_t(int64_t(Hkv) * hg / head_groups),
                         int32_t(int64_t(Hkv) * (hg + 1) / head_groups), sidx * chunk[b],
                         std::min(len, (sidx + 1) * chunk[b])});
      }
    }
  }
  // Partial results: [total_splits, Hq, D + 2] (acc, m, l per query head of each split).
  const size_t ps = partial_stride(D);
  const size_t split_size = size_t(j.num_q_heads) * ps;
  std::vector<float> partials(size_t(total_splits) * split_size);
  // Longest items first so the dynamic schedule does not end on one long straggler.
  std::vector<int32_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return int64_t(items[a].t1 - items[a].t0) * (items[a].h1 - items[a].h0) >
           int64_t(items[b].t1 - items[b].t0) * (items[b].h1 - items[b].h0);
  });
  pool.parallel_for(order.size(), [&](size_t k) {
    thread_local Scratch scratch;
    const WorkItem& w = items[order[k]];
    const int32_t sidx = w.t0 / chunk[w.b];
    float* part =
        partials.data() + size_t(split_start[w.b] + sidx) * split_size + size_t(w.h0) * G * ps;
    fn(j, w, scratch, part);
  });

  // Merge the splits of each (sequence, query head) and the sink term: fixed order, deterministic.
  pool.parallel_for(size_t(B) * Hkv, [&](size_t bh) {
    const int32_t b = int32_t(bh / Hkv), kvh = int32_t(bh % Hkv);
    const int32_t ns = splits[b];
    const float* first = partials.data() + size_t(split_start[b]) * split_size;
    std::vector<float> o(D);
    for (int32_t g = 0; g < G; ++g) {
      const int32_t h = kvh * G + g;
      float M = j.sinks ? j.sinks[h] : -std::numeric_limits<float>::infinity();
      for (int32_t sidx = 0; sidx < ns; ++sidx)
        M = std::max(M, first[sidx * split_size + h * ps + D]);
      float L = j.sinks ? std::exp(j.sinks[h] - M) : 0.0f;
      std::fill(o.begin(), o.end(), 0.0f);
      for (int32_t sidx = 0; sidx < ns; ++sidx) {
        const float* pp = first + sidx * split_size + h * ps;
        const float w = std::exp(pp[D] - M);
        L += pp[D + 1] * w;
        for (int32_t d = 0; d < D; ++d) o[d] += pp[d] * w;
      }
      const float inv = 1.0f / L;
      const size_t obase = (size_t(b) * j.num_q_heads + h) * D;
      for (int32_t d = 0; d < D; ++d) store_from_f32(j.out, j.q_dtype, obase + d, o[d] * inv);
      if (j.lse) j.lse[size_t(b) * j.num_q_heads + h] = M + std::log(L);
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace pagedkv::detail
HWY_AFTER_NAMESPACE();

namespace pagedkv::detail {

void run_cpu_decode(const CpuDecodeJob& job, const CpuDecodeOptions& options) {
  HWY_STATIC_DISPATCH(run)(job, options);
}

}  // namespace pagedkv::detail
