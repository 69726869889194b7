// Tensor-core decode kernels reading bf16 KV (bf16 q): tile-parallel for head dims
// 64, 128, 256 and head-parallel for 128, each with 1, 2, 4 or 8 query heads per CTA (16 kernels).

#include "attention/cuda/mma_kernel_table.cuh"

namespace pagedkv::cuda_detail {

const DecodeKernelTable& mma_kernels_bf16() {
  static const DecodeKernelTable table = make_mma_table<KvKind::kBF16, __nv_bfloat16>();
  return table;
}

}  // namespace pagedkv::cuda_detail
