// Paged prefill kernels for fp8 e4m3 KV (f16 mma operands) with bf16 or f16 q (also the output's
// type): head dims 64, 128, 256 each (6 kernels).

#include "attention/cuda/prefill_kernel_table.cuh"

namespace pagedkv::cuda_detail {

const PrefillKernelTable& prefill_kernels_fp8_bf16() {
  static const PrefillKernelTable table = make_prefill_table<true, __nv_bfloat16, __half>();
  return table;
}

const PrefillKernelTable& prefill_kernels_fp8_f16() {
  static const PrefillKernelTable table = make_prefill_table<true, __half, __half>();
  return table;
}

}  // namespace pagedkv::cuda_detail
