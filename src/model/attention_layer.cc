#include "model/attention_layer.h"

#include <cmath>

#include "attention/decode_gather.h"
#include "attention/paged_decode_cpu.h"
#include "attention/paged_prefill_cpu.h"
#include "model/norms.h"

namespace pagedkv {

namespace {

// The prefill kernel over T queries of one sequence whose blocks hold positions from base_pos on.
void prefill_attention(const ModelConfig& c, const AttentionRule& rule, const KvLayerView& kv,
                       const float* q, int32_t num_tokens, int64_t q_start,
                       std::span<const int32_t> blocks, int64_t base_pos, float* out) {
  PrefillParams p;
  p.q = q;
  p.num_q_heads = int32_t(c.num_heads);
  p.num_tokens = num_tokens;
  p.q_start = q_start;
  p.kv = kv;
  p.blocks = blocks.data();
  p.num_blocks = int32_t(blocks.size());
  p.base_pos = base_pos;
  p.rule = rule;
  p.scale = float(c.query_scale);
  p.softcap = float(c.attn_logit_softcap);
  p.out = out;
  paged_prefill_cpu(p);
}

// Decode rows through the group's CSR page list (visible blocks only), read in place.
void decode_attention(const ModelConfig& c, const AttentionRule& rule, DecodeKernel kernel,
                      const KvLayerView& kv, const PageList& pages, const ForwardRows& rows,
                      const float* q, float* out) {
  if (kernel == DecodeKernel::kPagedPrefill) {  // one query per sequence, any head dim
    const int64_t row = c.num_heads * c.head_dim;
    for (int64_t r = 0; r < rows.size(); ++r) {
      const int32_t begin = pages.indptr[r], end = pages.indptr[r + 1];
      const int64_t base = rows.pos[r] + 1 - pages.visible_len[r] - pages.first_offset[r];
      prefill_attention(c, rule, kv, q + r * row, 1, rows.pos[r],
                        std::span<const int32_t>(pages.indices.data() + begin, end - begin), base,
                        out + r * row);
    }
    return;
  }
  DecodeParams p;
  p.q = q;
  p.q_dtype = DType::kF32;
  p.num_q_heads = int32_t(c.num_heads);
  p.kv = kv;
  p.pages = pages.view();
  p.scale = float(c.query_scale);
  p.softcap = float(c.attn_logit_softcap);
  p.out = out;
  if (kernel == DecodeKernel::kGather) {
    thread_local DecodeGatherWorkspace workspace;  // reused across layers and steps
    decode_gather(p, workspace);
  } else {
    paged_decode_cpu(p);
  }
}

}  // namespace

void apply_positions(const ModelConfig& c, const LayerConfig& layer, const Rope& rope,
                     const AttentionWeights& w, const int64_t* pos, int64_t rows, float* q,
                     float* k) {
  const int64_t Hq = c.num_heads, Hkv = c.num_kv_heads, D = c.head_dim;
  const float eps = float(c.rms_norm_eps);
  if (c.qk_norm == QkNorm::kLearnedBeforeRope) {
    rms_norm(q, rows * Hq, D, w.q_norm.data(), c.norm_weight, eps);
    rms_norm(k, rows * Hkv, D, w.k_norm.data(), c.norm_weight, eps);
  }
  if (layer.use_rope) {
    rope.apply(q, rows, Hq, pos);
    rope.apply(k, rows, Hkv, pos);
    if (c.qk_norm == QkNorm::kWeightlessAfterRope) {
      rms_norm(q, rows * Hq, D, nullptr, NormWeight::kNone, eps);
      rms_norm(k, rows * Hkv, D, nullptr, NormWeight::kNone, eps);
    }
  } else if (layer.temperature_tuning) {
    for (int64_t r = 0; r < rows; ++r) {
      const float s = std::log1p(std::floor((float(pos[r]) + 1.0f) / float(c.floor_scale))) *
                          float(c.attn_scale) +
                      1.0f;
      for (int64_t i = 0; i < Hq * D; ++i) q[r * Hq * D + i] *= s;
    }
  }
}

void attention_forward(const ModelConfig& c, int32_t layer, const AttentionWeights& w,
                       const Rope& rope, DecodeKernel kernel, KvCache& cache,
                       const ForwardRows& rows, const float* x, float* out) {
  const int64_t R = rows.size(), Hq = c.num_heads, Hkv = c.num_kv_heads, D = c.head_dim;
  std::vector<float> q(R * Hq * D), k(R * Hkv * D), v(R * Hkv * D);  // [R, H*, D]
  w.q.forward(x, R, q.data());
  w.k.forward(x, R, k.data());
  w.v.forward(x, R, v.data());
  apply_positions(c, c.layers[layer], rope, w, rows.pos.data(), R, q.data(), k.data());
  for (int64_t r = 0; r < R; ++r)
    cache.write(rows.seq[r], layer, rows.pos[r], k.data() + r * Hkv * D, v.data() + r * Hkv * D);

  std::vector<float> attn(R * Hq * D);  // [R, Hq, D]
  const int32_t group = cache.group_of_layer(layer);
  const AttentionRule& rule = cache.group_spec(group).rule;
  const KvLayerView kv = cache.layer_view(layer);
  if (rows.prefill) {
    const BlockTable& table = cache.table(group, rows.seq[0]);
    prefill_attention(c, rule, kv, q.data(), int32_t(R), rows.pos[0], table.blocks(),
                      table.num_released() * table.block_size(), attn.data());
  } else {
    decode_attention(c, rule, kernel, kv, cache.page_list(group, rows.seq), rows, q.data(),
                     attn.data());
  }
  w.o.forward(attn.data(), R, out);
}

}  // namespace pagedkv
