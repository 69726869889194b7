#include "attention/paged_prefill_cpu.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace pagedkv {

namespace {

// First position the query at position pos may see.
int64_t visible_begin(const PrefillParams& p, int64_t pos) { return p.rule.visible_begin(pos + 1); }

void validate(const PrefillParams& p) {
  const KvLayerView& kv = p.kv;
  PKV_CHECK(p.q && p.out && kv.k && kv.v && p.blocks, InvalidArgument,
            "paged_prefill_cpu: null pointer");
  p.rule.validate();
  PKV_CHECK(p.num_tokens >= 1 && p.q_start >= 0, InvalidArgument, "paged_prefill_cpu: num_tokens ",
            p.num_tokens, ", q_start ", p.q_start);
  PKV_CHECK(kv.num_kv_heads >= 1 && p.num_q_heads % kv.num_kv_heads == 0, InvalidArgument,
            "paged_prefill_cpu: Hq ", p.num_q_heads, " is not a multiple of Hkv ", kv.num_kv_heads);
  PKV_CHECK(kv.dtype == DType::kF32 || kv.dtype == DType::kBF16 || kv.dtype == DType::kF16,
            Unsupported, "paged_prefill_cpu: KV dtype ", dtype_name(kv.dtype));
  PKV_CHECK(kv.block_size >= 1 && p.base_pos % kv.block_size == 0, InvalidArgument,
            "paged_prefill_cpu: base_pos ", p.base_pos, " is not a block boundary");
  for (int32_t i = 0; i < p.num_blocks; ++i)
    PKV_CHECK(p.blocks[i] >= 0 && p.blocks[i] < kv.num_blocks, InvalidArgument,
              "paged_prefill_cpu: block id ", p.blocks[i], " outside the pool of ", kv.num_blocks);
  const int64_t last = p.q_start + p.num_tokens - 1;
  const int64_t end = p.base_pos + int64_t(p.num_blocks) * kv.block_size;
  PKV_CHECK(last < end, InvalidArgument, "paged_prefill_cpu: position ", last, " is past the ",
            p.num_blocks, " blocks given");
  PKV_CHECK(visible_begin(p, p.q_start) >= p.base_pos, InvalidArgument,
            "paged_prefill_cpu: query at ", p.q_start, " needs position ",
            visible_begin(p, p.q_start), " but the blocks start at ", p.base_pos);
}

// Key or value row (b, s, h) as f32 into dst [D].
inline const float* row(const KvLayerView& kv, const void* base, int32_t block, int64_t slot,
                        int64_t head, float* scratch) {
  const int64_t off = block * kv.stride_block + slot * kv.stride_token + head * kv.stride_head;
  if (kv.dtype == DType::kF32) return static_cast<const float*>(base) + off;
  for (int32_t d = 0; d < kv.head_dim; ++d)
    scratch[d] = load_as_f32(base, kv.dtype, size_t(off + d));
  return scratch;
}

}  // namespace

void paged_prefill_cpu(const PrefillParams& p) {
  validate(p);
  const KvLayerView& kv = p.kv;
  const int64_t D = kv.head_dim, Hq = p.num_q_heads, G = Hq / kv.num_kv_heads, bs = kv.block_size;
  // One work item per (query token, query head): independent outputs, each computed in a fixed
  // order, so the result does not depend on the thread count or on scheduling.
  auto item = [&](size_t idx) {
    const int64_t t = int64_t(idx) / Hq, h = int64_t(idx) % Hq;
    const int64_t pos = p.q_start + t;
    const int64_t lo = visible_begin(p, pos);
    const int64_t n = pos - lo + 1;
    std::vector<float> scores(n), kbuf(D), vbuf(D), acc(D, 0.0f);  // [n], [D] x 3
    const float* q = p.q + (t * Hq + h) * D;
    const int64_t kvh = h / G;
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t rel = lo + i - p.base_pos;
      const float* k = row(kv, kv.k, p.blocks[rel / bs], rel % bs, kvh, kbuf.data());
      float s = 0.0f;
      for (int64_t d = 0; d < D; ++d) s += q[d] * k[d];
      s *= p.scale;
      if (p.softcap > 0.0f) s = p.softcap * std::tanh(s / p.softcap);
      scores[i] = s;
      mx = std::max(mx, s);
    }
    float denom = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      scores[i] = std::exp(scores[i] - mx);
      denom += scores[i];
    }
    for (int64_t i = 0; i < n; ++i) {
      const int64_t rel = lo + i - p.base_pos;
      const float* v = row(kv, kv.v, p.blocks[rel / bs], rel % bs, kvh, vbuf.data());
      const float w = scores[i];
      for (int64_t d = 0; d < D; ++d) acc[d] += w * v[d];
    }
    float* o = p.out + (t * Hq + h) * D;
    const float inv = 1.0f / denom;
    for (int64_t d = 0; d < D; ++d) o[d] = acc[d] * inv;
  };
  const size_t items = size_t(p.num_tokens) * size_t(Hq);
  // Small problems (a decode step of a tiny model) are cheaper inline than a pool handoff.
  if (items * size_t(p.num_tokens) < 64) {
    for (size_t i = 0; i < items; ++i) item(i);
  } else {
    ThreadPool::global().parallel_for(items, item);
  }
}

}  // namespace pagedkv
