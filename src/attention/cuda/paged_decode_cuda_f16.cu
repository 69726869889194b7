// Tensor-core decode kernels reading f16 KV (f16 q): tile-parallel for head dims
// 64, 128, 256 and head-parallel for 128, each with 1, 2, 4 or 8 query heads per CTA (16 kernels).

#include "attention/cuda/mma_kernel_table.cuh"

namespace pagedkv::cuda_detail {

const DecodeKernelTable& mma_kernels_f16() {
  static const DecodeKernelTable table = make_mma_table<KvKind::kF16, __half>();
  return table;
}

}  // namespace pagedkv::cuda_detail
