#pragma once
// Paged prefill attention on the CPU: T new query tokens of ONE sequence, at positions
// q_start .. q_start + T - 1, attend causally to keys read in place from the pool through the
// sequence's block list — the earlier tokens (possibly prefix-cache blocks) and the new ones the
// caller has already written. Each query at position p sees the keys its layer's AttentionRule
// (kv/attention_rule.h) makes visible to it: [rule.visible_begin(p + 1), p]. Numerics: f32 dot
// products and a two-pass f32 softmax per (query, head), keys visited oldest first, so the result
// depends only on the stored values, never on where the blocks lie (placement invariance, as in
// ../shared/DESIGN.md §3).

#include <cstdint>

#include "kv/attention_rule.h"
#include "kv/kv_view.h"

namespace pagedkv {

struct PrefillParams {
  const float* q = nullptr;         // [T, Hq, D]
  int32_t num_q_heads = 0;          // Hq, a multiple of kv.num_kv_heads
  int32_t num_tokens = 0;           // T >= 1
  int64_t q_start = 0;              // position of query 0
  KvLayerView kv;                   // the layer's pool (f32, bf16 or f16)
  const int32_t* blocks = nullptr;  // [num_blocks]: physical ids holding positions from base_pos on
  int32_t num_blocks = 0;
  int64_t base_pos = 0;  // position held by slot 0 of blocks[0] (a multiple of block_size)
  AttentionRule rule;    // which earlier positions each query sees (full / sliding / chunked)
  float scale = 0.0f;    // logit scale
  float softcap = 0.0f;  // > 0: s = softcap * tanh(s / softcap)
  float* out = nullptr;  // [T, Hq, D]
};

// Validates (shapes, block ids, every needed position held), then computes out. Cost:
// O(T * Hq * visible * D).
void paged_prefill_cpu(const PrefillParams& p);

}  // namespace pagedkv
