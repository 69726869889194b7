#pragma once
// What the paged prefill kernel is launched with (plain C++, shared by the host planner in
// paged_prefill_cuda.cu and the kernel in paged_prefill_mma.cuh), and its kernel table: one entry
// (kernel, shared memory, launch) per instantiation, one table per (q, KV) dtype family, each
// filled in its own translation unit:
//   paged_prefill_cuda_bf16.cu   bf16 q, bf16 KV  (3 kernels: head dim 64, 128, 256)
//   paged_prefill_cuda_f16.cu    f16 q, f16 KV    (3 kernels)
//   paged_prefill_cuda_fp8.cu    bf16 or f16 q, fp8 e4m3 KV (6 kernels)
// Host-only header: no device code.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace pagedkv::cuda_detail {

// Visibility rule codes (AttentionKind as plain ints for the kernel).
enum PrefillRuleCode : int32_t { kRuleFull = 0, kRuleSliding = 1, kRuleChunked = 2 };

struct PrefillKernelArgs {
  const void* q;     // [T, Hq, D] in q's dtype (bf16 or f16)
  void* out;         // [T, Hq, D] in q's dtype
  const uint8_t* k;  // pool, [num_blocks, block_size, Hkv, D] (strides below, in bytes)
  const uint8_t* v;
  uint32_t block_bytes;       // stride between blocks (< 4 GiB, checked on the host)
  uint32_t token_bytes;       // stride between slots of a block (< 4 GiB)
  uint64_t head_bytes;        // stride between kv heads
  int32_t block_shift;        // log2(block_size)
  const int32_t* q_indptr;    // [S + 1]
  const int32_t* q_pos;       // [S]
  const int32_t* kv_indptr;   // [S + 1]
  const int32_t* kv_indices;  // [kv_indptr[S]]
  const int32_t* kv_base;     // [S]
  int32_t num_q_heads;        // Hq
  int32_t group;              // G = Hq / Hkv
  int32_t rule;               // PrefillRuleCode
  int32_t rule_param;         // sliding: window W; chunked: chunk C (both >= 1, clamped to int32)
  float scale;                // logit scale
  float softcap;              // 0: off
  float k_scale, v_scale;     // fp8 only (1 otherwise)
  const float* k_head_scale;  // [Hkv] or null (fp8 only)
  const float* v_head_scale;
};

struct PrefillKernelEntry {
  const void* fn = nullptr;  // the kernel (for attributes)
  int smem = 0;              // dynamic shared memory bytes
  int threads = 0;           // CTA size
  int rows_per_cta = 0;      // packed (token, head) rows of one CTA
  void (*launch)(dim3 grid, int smem, cudaStream_t stream, const PrefillKernelArgs& args) = nullptr;
};

// Kernels indexed by head dim (64, 128, 256).
struct PrefillKernelTable {
  PrefillKernelEntry dims[3];
};

const PrefillKernelTable& prefill_kernels_bf16();      // bf16 q, bf16 KV
const PrefillKernelTable& prefill_kernels_f16();       // f16 q, f16 KV
const PrefillKernelTable& prefill_kernels_fp8_bf16();  // bf16 q, fp8 KV (f16 operands)
const PrefillKernelTable& prefill_kernels_fp8_f16();   // f16 q, fp8 KV

}  // namespace pagedkv::cuda_detail
