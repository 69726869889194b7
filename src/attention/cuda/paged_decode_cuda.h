#pragma once
// Fused paged decode attention on NVIDIA GPUs (../shared/DESIGN.md §3, implementation 4).
//
// Two kernels behind one plan: a tensor-core one (mma.m16n8k16; q bf16/f16 with matching or
// fp8 KV) and a CUDA-core one (f32 q, mixed 16-bit types). See paged_decode_mma.cuh for why.
// Split-KV ("flash-decoding"): the grid is (split, kv head x head group, sequence). One CTA reads
// the K/V rows of one kv head for one slice of one sequence, straight from the pool through the
// page list, and computes the partial softmax for all query heads of the GQA group at once, so
// each K/V byte crosses HBM once. The last CTA of a (sequence, kv head) to finish merges the
// partial results (an atomic counter per group, reset by that CTA), so one launch does it all.
//
// Two steps, so that the run step can be captured in a CUDA graph:
//   plan  (host, once per batch shape): picks the kernel, the number of splits, the workspace size.
//   run   (any stream, capturable): launches one kernel; no allocation, no host synchronisation.
// A sequence of any length runs under any plan: each sequence is cut into at most
// plan.num_splits slices of its own length; the plan's expected length only tunes the split count.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "attention/decode_params.h"
#include "core/cuda/cuda_check.h"  // cuda_device_available

namespace pagedkv {

struct PagedDecodeCudaShape {
  int32_t batch_size = 0;         // B
  int32_t num_q_heads = 0;        // Hq
  int32_t num_kv_heads = 0;       // Hkv; Hq % Hkv == 0
  int32_t head_dim = 0;           // 64, 128 or 256
  DType kv_dtype = DType::kBF16;  // bf16, f16 or fp8_e4m3
  DType q_dtype = DType::kBF16;   // f32, f16 or bf16 (also the output's); picks the kernel
  int32_t expected_len = 4096;    // typical visible length: tunes the split count only
  int32_t num_splits = 0;         // > 0 forces the split count (tests), <= 128; 0 picks it
  // Head-parallel warps (tensor-core kernel, head dim 128 only): each warp of a 2-warp CTA
  // streams one kv head's slice, adjacent heads in step (better DRAM locality in an NHD pool).
  // -1: auto (see plan_paged_decode_cuda), 0: off, 1: on.
  // PAGEDKV_DECODE_HEADS=0/1 in the environment overrides this at plan time (benchmark A/B).
  int32_t head_parallel = -1;
};

struct PagedDecodeCudaPlan {
  PagedDecodeCudaShape shape;
  int32_t heads_per_cta = 0;   // query heads packed in one CTA (1, 2, 4 or 8)
  int32_t head_groups = 0;     // ceil(G / heads_per_cta) CTAs per kv head and split
  int32_t num_splits = 0;      // max slices per sequence
  bool head_parallel = false;  // chosen variant (see PagedDecodeCudaShape)
  int32_t grid_y = 0;          // CTAs per (split, sequence)
  int32_t ctas_per_sm = 0;     // occupancy of the chosen kernel
  int32_t sm_count = 0;
  size_t workspace_bytes = 0;  // device bytes the run step needs
};

// Validates the shape (clear error for unsupported head dims / dtypes) and fixes the launch.
PagedDecodeCudaPlan plan_paged_decode_cuda(const PagedDecodeCudaShape& shape);

// Zeroes the merge counters of a fresh workspace (once after allocation; the kernel leaves them
// zeroed after every run).
void init_paged_decode_workspace(const PagedDecodeCudaPlan& plan, void* workspace,
                                 cudaStream_t stream);

// Runs decode attention. All pointers in `params` are device pointers. The page list arrays are
// read on the device and must obey the contract (indices < num_blocks, visible_len >= 1); the
// host-visible fields are validated here. One workspace serves one run at a time.
void paged_decode_cuda(const PagedDecodeCudaPlan& plan, const DecodeParams& params, void* workspace,
                       cudaStream_t stream);

}  // namespace pagedkv
