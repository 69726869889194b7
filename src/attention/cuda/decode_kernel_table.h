#pragma once
// The decode kernels as the planner sees them: one entry (kernel, shared memory, CTA size, launch)
// per instantiation, in one table per kernel family and KV dtype. Each table is filled in its own
// translation unit, so that changing one family recompiles only its kernels, and the six compile
// in parallel:
//   paged_decode_cuda_{bf16,f16,fp8}.cu        tensor-core kernels reading that KV dtype (16 each)
//   paged_decode_cuda_simt_{bf16,f16,fp8}.cu   CUDA-core kernels (f32 q, mixed types) (12 each)
// Host-only header: no device code.

#include <cuda_runtime_api.h>

#include "attention/cuda/decode_kernel_args.h"
#include "core/dtype.h"

namespace pagedkv::cuda_detail {

struct KernelEntry {
  const void* fn = nullptr;  // the kernel (for attributes and occupancy)
  int smem = 0;              // dynamic shared memory bytes
  int threads = kThreads;    // CTA size
  void (*launch)(dim3 grid, int smem, cudaStream_t stream, const KernelArgs& args) = nullptr;
};

// One family's kernels for one KV dtype.
struct DecodeKernelTable {
  KernelEntry tiles[3][4];  // tile-parallel CTAs: [head dim 64, 128, 256][heads per CTA 1, 2, 4, 8]
  KernelEntry heads[4];     // head-parallel warps (tensor-core kernels, head dim 128 only)
};

// Tensor-core kernels (q in the mma type: bf16 with bf16 KV, f16 with f16 or fp8 KV).
const DecodeKernelTable& mma_kernels_bf16();
const DecodeKernelTable& mma_kernels_f16();
const DecodeKernelTable& mma_kernels_fp8();
// CUDA-core kernels (any q dtype); no head-parallel entries.
const DecodeKernelTable& simt_kernels_bf16();
const DecodeKernelTable& simt_kernels_f16();
const DecodeKernelTable& simt_kernels_fp8();

}  // namespace pagedkv::cuda_detail
