#pragma once
// Dense decode attention on the CPU (../shared/DESIGN.md §3, implementation "dense contiguous"):
// the same math and engine as paged_decode_cpu over per-sequence contiguous K/V, i.e. the cache
// without paging. The no-paging baseline of the benchmarks, and the second half of decode_gather.

#include <cstdint>

#include "attention/cpu_decode_options.h"
#include "attention/decode_params.h"
#include "core/dtype.h"

namespace pagedkv {

struct DenseDecodeParams {
  const void* q = nullptr;         // [B, Hq, D] in q_dtype
  DType q_dtype = DType::kBF16;    // also the dtype of out
  int32_t num_q_heads = 0;         // Hq, a multiple of num_kv_heads
  const void* const* k = nullptr;  // [B] pointers; sequence b: [seq_len[b], Hkv, D] contiguous
  const void* const* v = nullptr;  // [B] pointers; same shape as k
  DType kv_dtype = DType::kBF16;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  const int32_t* seq_len = nullptr;  // [B], each >= 1: every stored token is visible
  int32_t batch_size = 0;
  float scale = 0.0f;
  float softcap = 0.0f;          // > 0: s = softcap * tanh(s / softcap)
  const float* sinks = nullptr;  // [Hq] or null
  void* out = nullptr;           // [B, Hq, D] in q_dtype
  float* lse = nullptr;          // [B, Hq] or null
};

// The dense twin of a paged problem: same q, output, scale, softcap and sinks; sequence b reads its
// visible tokens contiguously from k[b] / v[b] ([visible_len[b], Hkv, D]).
DenseDecodeParams dense_params_for(const DecodeParams& p, const void* const* k,
                                   const void* const* v);

// Throws Error naming the problem (null pointers, Hq % Hkv, head dim, dtype, seq_len < 1, scale).
void validate_dense_decode_params(const DenseDecodeParams& p);

void dense_decode_cpu(const DenseDecodeParams& p, const CpuDecodeOptions& options = {});

}  // namespace pagedkv
