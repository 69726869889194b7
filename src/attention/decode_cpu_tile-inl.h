#pragma once
// Internal to decode_cpu_engine.cc (include it only there, after its Highway includes): the
// per-tile math of the CPU decode engine — widening rows, 4-way horizontal sums, logits (f32 and
// vdpbf16ps), and the online-softmax + P·V update. Static-dispatch Highway code.

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

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

// Each kv head's query rows are padded to a multiple of kHeadBlock so the PV loop always updates
// kHeadBlock accumulators (padding heads keep p = 0 and their rows are never read back).
constexpr int32_t kHeadBlock = 4;
inline int32_t padded_group(int32_t G) { return (G + kHeadBlock - 1) / kHeadBlock * kHeadBlock; }

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

}  // namespace HWY_NAMESPACE
}  // namespace pagedkv::detail
HWY_AFTER_NAMESPACE();
