#pragma once
// The loader's primitives: 16-byte cp.async copies global -> shared (with or without an L2
// policy), 4-byte ones (page ids), commit / wait of copy groups.

#include <cstdint>

namespace pagedkv::cuda_detail {

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem),
               "r"(src_bytes));
}
// 4-byte copy (page ids); src_bytes 0 fills zeros and reads nothing.
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem, int src_bytes) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(gmem),
               "r"(src_bytes));
}
// L2 policy for K/V bytes: each is read once per call, so they are the first to go when L2
// needs room, and what every call re-reads (lengths, page ids, q, split partials; in a model,
// every layer's call reads the same tables) stays resident across calls instead of being flushed
// by the stream (the pool is larger than L2). Worth 1-4% on H200 at 67-268 MB (B = 1, L = 16k,
// 64/8: 25.2 -> 24.5 us), where the prologue's dependent loads (length -> page ids -> first tile)
// are a visible part of a call.
__device__ __forceinline__ uint64_t kv_l2_policy() {
  uint64_t p;
  asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(p));
  return p;
}
// cp_async16 with that policy, to a shared-window address. ptxas 13.0 miscompiles the hinted
// copy when it splits the destination into a uniform base plus a per-thread offset: it emits
// LDGSTS ... [R+UR0], desc[UR1] with UR0 / UR1 never written (an illegal instruction at run
// time, in whichever kernels' destinations it folded that way; scripts/sass_check.py finds the
// pattern). Callers pass the destination through kept_per_thread, so the whole address stays in
// one per-thread register.
__device__ __forceinline__ void cp_async16(uint32_t smem_s, const void* gmem, int src_bytes,
                                           uint64_t policy) {
  asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2, %3;\n" ::"r"(smem_s),
               "l"(gmem), "r"(src_bytes), "l"(policy));
}
// x, as a value ptxas cannot prove warp-uniform (a shuffle result), so it never lives in a
// uniform register.
__device__ __forceinline__ uint32_t kept_per_thread(uint32_t x) {
  return __shfl_sync(0xffffffffu, x, threadIdx.x % 32);
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

}  // namespace pagedkv::cuda_detail
