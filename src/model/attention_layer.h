#pragma once
// The attention sublayer of a decoder layer on the CPU: q/k/v projections, the layer's position
// handling (per-head q/k norms, RoPE or temperature tuning, as ModelConfig says), K/V written into
// the paged cache, paged attention that reads every earlier token in place, output projection.
//
// Prefill rows (one sequence, consecutive positions) go through paged_prefill_cpu over the
// sequence's block table; decode rows (one per sequence) through the group's CSR page list and
// the decode kernel DecodeKernel picks. The layer's AttentionRule reaches the kernels as data.

#include <cstdint>
#include <vector>

#include "kv/kv_cache.h"
#include "model/forward_rows.h"
#include "model/model_config.h"
#include "model/model_weights.h"
#include "model/rope.h"

namespace pagedkv {

// Which kernel decode rows use. kAuto: the fused paged kernel (attention/paged_decode_cpu.h) when
// it supports the head dim and KV dtype, else the paged prefill kernel with one query per
// sequence (any head dim; the HF fixtures use head_dim 32). Both read the blocks in place.
// kGather: copy each sequence's visible blocks into a contiguous buffer, then dense attention
// (attention/decode_gather.h) — the baseline the fused kernel is benchmarked against.
enum class DecodeKernel { kAuto, kFusedPaged, kPagedPrefill, kGather };

// Position handling of one layer on projected q [R, Hq, D] and k [R, Hkv, D], in HF's order:
// learned per-head norms before RoPE; RoPE, then weightless norms (RoPE layers); temperature
// tuning of q (NoPE layers that have it).
void apply_positions(const ModelConfig& c, const LayerConfig& layer, const Rope& rope,
                     const AttentionWeights& w, const int64_t* pos, int64_t rows, float* q,
                     float* k);

// out [R, H] = o_proj(attention(x [R, H])) for one layer. K/V of the rows are written to the
// cache (copy-on-write where a block is shared). kernel: decode rows only (resolved, not kAuto).
void attention_forward(const ModelConfig& c, int32_t layer, const AttentionWeights& w,
                       const Rope& rope, DecodeKernel kernel, KvCache& cache,
                       const ForwardRows& rows, const float* x, float* out);

}  // namespace pagedkv
