// CUDA-core decode kernels reading bf16 KV (f32 q, or q in another 16-bit type than the KV): head
// dims 64, 128, 256, each with 1, 2, 4 or 8 query heads per CTA (12 kernels).

#include "attention/cuda/simt_kernel_table.cuh"

namespace pagedkv::cuda_detail {

const DecodeKernelTable& simt_kernels_bf16() {
  static const DecodeKernelTable table = make_simt_table<KvKind::kBF16>();
  return table;
}

}  // namespace pagedkv::cuda_detail
