#pragma once
// What both decode kernels are launched with (plain C++, shared by the host planner and the
// kernels): KernelArgs, the CTA shapes, the KV and q type codes.

#include <cstdint>

namespace pagedkv::cuda_detail {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kWarps = 4;
// Head-parallel tensor-core CTAs hold 2 warps (2 kv heads / head groups): 0-3% faster than 4 at
// every head-parallel point on H200, since the planner then reaches one CTA per SM with fewer
// splits.
constexpr int kHeadsWarps = 2;
constexpr int kThreads = kWarps * 32;

enum class KvKind { kBF16, kF16, kFP8 };
enum QKind : int { kQF32 = 0, kQF16 = 1, kQBF16 = 2 };

struct KernelArgs {
  const void* q;     // [B, Hq, D] in q_kind
  void* out;         // [B, Hq, D] in q_kind
  float* lse;        // [B, Hq] or null
  const uint8_t* k;  // pool, [num_blocks, block_size, Hkv, D] with the strides below
  const uint8_t* v;
  int64_t stride_block;  // elements
  int64_t stride_token;
  int64_t stride_head;
  int32_t block_shift;          // log2(block_size)
  const int32_t* indptr;        // [B + 1]
  const int32_t* indices;       // [indptr[B]]
  const int32_t* first_offset;  // [B]
  const int32_t* visible_len;   // [B]
  int32_t num_q_heads;
  int32_t num_kv_heads;
  int32_t group;  // G = Hq / Hkv
  int32_t head_groups;
  int32_t num_splits;
  int32_t q_kind;
  float scale;
  float softcap;  // 0: off
  float k_scale, v_scale;
  const float* k_head_scale;  // [Hkv] or null
  const float* v_head_scale;
  const float* sinks;  // [Hq] or null
  float* part_o;       // [B, Hq, num_splits, D] normalised partial outputs
  float* part_lse;     // [B, Hq, num_splits] log2-domain lse of each partial
  int32_t* counters;   // [B, Hkv, head_groups] CTAs done, reset by the merging CTA
};

}  // namespace pagedkv::cuda_detail
