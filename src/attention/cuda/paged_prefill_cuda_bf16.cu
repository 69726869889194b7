// Paged prefill kernels for bf16 q with bf16 KV: head dims 64, 128, 256 (3 kernels).

#include "attention/cuda/prefill_kernel_table.cuh"

namespace pagedkv::cuda_detail {

const PrefillKernelTable& prefill_kernels_bf16() {
  static const PrefillKernelTable table = make_prefill_table<false, __nv_bfloat16, __nv_bfloat16>();
  return table;
}

}  // namespace pagedkv::cuda_detail
