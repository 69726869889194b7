// Tensor-core decode kernels reading fp8 KV (bf16 or f16 q, run as f16): tile-parallel for head
// dims 64, 128, 256 and head-parallel for 128, each with 1, 2, 4 or 8 query heads per CTA (16
// kernels).

#include "attention/cuda/mma_kernel_table.cuh"

namespace pagedkv::cuda_detail {

const DecodeKernelTable& mma_kernels_fp8() {
  static const DecodeKernelTable table = make_mma_table<KvKind::kFP8, __half>();
  return table;
}

}  // namespace pagedkv::cuda_detail
