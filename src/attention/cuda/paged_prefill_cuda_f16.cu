// Paged prefill kernels for f16 q with f16 KV: head dims 64, 128, 256 (3 kernels).

#include "attention/cuda/prefill_kernel_table.cuh"

namespace pagedkv::cuda_detail {

const PrefillKernelTable& prefill_kernels_f16() {
  static const PrefillKernelTable table = make_prefill_table<false, __half, __half>();
  return table;
}

}  // namespace pagedkv::cuda_detail
