#pragma once
// Internal: the one CPU decode engine behind paged_decode_cpu, dense_decode_cpu and decode_gather.
// The three differ only in how a visible token is addressed (through the page list, or in a
// per-sequence contiguous buffer); the math, tiling, split and merge are shared, so for the same
// lengths and options their outputs are bit-identical.
// Callers validate their parameters first; this code assumes valid input.

#include <cstdint>

#include "attention/cpu_decode_options.h"
#include "core/dtype.h"

namespace pagedkv::detail {

struct CpuDecodeJob {
  const void* q = nullptr;  // [B, Hq, D] in q_dtype
  DType q_dtype = DType::kF32;
  int32_t batch_size = 0;
  int32_t num_q_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  DType kv_dtype = DType::kF32;          // f32, f16 or bf16
  const int32_t* visible_len = nullptr;  // [B]
  float scale = 0.0f;
  float softcap = 0.0f;
  const float* sinks = nullptr;  // [Hq] or null
  void* out = nullptr;           // [B, Hq, D] in q_dtype
  float* lse = nullptr;          // [B, Hq] or null

  // Element (token t, head h, dim d) of sequence b:
  //  paged: pool + block(b, t) * stride_block + slot(b, t) * stride_token + h * stride_head + d
  //  dense: seq_k[b] + t * stride_token + h * stride_head + d
  bool paged = true;
  int64_t stride_token = 0;
  int64_t stride_head = 0;
  // paged
  const void* k_pool = nullptr;
  const void* v_pool = nullptr;
  int64_t stride_block = 0;
  int32_t block_size = 0;
  const int32_t* indptr = nullptr;
  const int32_t* indices = nullptr;
  const int32_t* first_offset = nullptr;
  // dense
  const void* const* seq_k = nullptr;  // [B]
  const void* const* seq_v = nullptr;  // [B]
};

void run_cpu_decode(const CpuDecodeJob& job, const CpuDecodeOptions& options);

}  // namespace pagedkv::detail
