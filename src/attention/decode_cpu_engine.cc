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

#include "attention/decode_cpu_tile-inl.h"

HWY_BEFORE_NAMESPACE();
namespace pagedkv::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

struct WorkItem {
  int32_t b, h0, h1, t0, t1;
};

// Partial result of a work item for its G query heads: [G, D + 2] = unnormalized acc, then m, l.
inline size_t partial_stride(int32_t D) { return size_t(D) + 2; }

// Per-thread scratch, sized for the largest item seen.
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
