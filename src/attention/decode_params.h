#pragma once
// The decode attention contract (../shared/DESIGN.md §3) as one plain struct, shared by every
// implementation: reference, gather, fused paged CPU, dense, fused paged CUDA.
// One new query token per sequence; query head h reads kv head h / (Hq / Hkv).

#include <cstdint>

#include "core/dtype.h"
#include "kv/kv_view.h"

namespace pagedkv {

struct DecodeParams {
  const void* q = nullptr;       // [B, Hq, D]
  DType q_dtype = DType::kBF16;  // also the dtype of out
  int32_t num_q_heads = 0;       // Hq, a multiple of kv.num_kv_heads
  KvLayerView kv;                // the layer's pool
  PageListView pages;            // which blocks each sequence sees
  float scale = 0.0f;            // logit scale, usually 1/sqrt(D)
  float softcap = 0.0f;          // > 0: s = softcap * tanh(s / softcap)
  const float* sinks = nullptr;  // [Hq] or null: extra exp(sink_h) term in the denominator
  void* out = nullptr;           // [B, Hq, D] in q_dtype
  float* lse = nullptr;          // [B, Hq] or null: natural-log log-sum-exp of the scaled logits
                                 // (sinks included), for merging partial results
};

}  // namespace pagedkv
