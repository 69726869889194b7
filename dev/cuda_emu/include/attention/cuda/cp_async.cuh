#pragma once
// EMULATED src/attention/cuda/cp_async.cuh (dev/cuda_emu): the same API, each copy queued on the
// emulated thread (emu::cp_async) and landed at its wait, or at issue with EMU_EARLY=1.
#include "emu.h"

namespace pagedkv::cuda_detail {

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  emu::cp_async(emu::shared_off(smem), gmem, 16, src_bytes);
}
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem, int src_bytes) {
  emu::cp_async(emu::shared_off(smem), gmem, 4, src_bytes);
}
__device__ __forceinline__ uint64_t kv_l2_policy() { return 0x1234; }
__device__ __forceinline__ void cp_async16(uint32_t smem_s, const void* gmem, int src_bytes,
                                           uint64_t policy) {
  if (policy != 0x1234) emu::die("cp.async with a policy register that was never written");
  emu::cp_async(smem_s, gmem, 16, src_bytes);
}
__device__ __forceinline__ uint32_t kept_per_thread(uint32_t x) {
  return __shfl_sync(0xffffffffu, x, threadIdx.x % 32);
}
__device__ __forceinline__ void cp_async_commit() { emu::cp_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { emu::cp_wait(N); }

}  // namespace pagedkv::cuda_detail
