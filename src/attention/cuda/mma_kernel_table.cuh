#pragma once
// Table entries of the tensor-core kernel (see decode_kernel_table.h), for the three translation
// units that instantiate it, one per KV dtype.

#include "attention/cuda/decode_kernel_table.h"
#include "attention/cuda/paged_decode_mma.cuh"

namespace pagedkv::cuda_detail {

// Tensor-core kernel (q in the MMA type T); HEADS: head-parallel warps.
template <int D, KvKind KV, typename T, int GP, bool HEADS = false>
KernelEntry mma_entry() {
  KernelEntry e;
  e.fn = reinterpret_cast<const void*>(&paged_decode_mma_kernel<D, KV, T, GP, HEADS>);
  constexpr int kCtaThreads = 32 * (HEADS ? kHeadsWarps : kWarps);
  e.smem = HEADS ? MmaCfg<D, KV>::kHeadsSmemBytes : MmaCfg<D, KV>::kSmemBytes;
  e.threads = kCtaThreads;
  e.launch = [](dim3 grid, int smem, cudaStream_t st, const KernelArgs& a) {
    paged_decode_mma_kernel<D, KV, T, GP, HEADS><<<grid, kCtaThreads, smem, st>>>(a);
  };
  return e;
}

// Head-parallel kernels are instantiated for head dim 128 only (the benchmarked shape), to keep
// compile time modest.
template <KvKind KV, typename T>
DecodeKernelTable make_mma_table() {
  DecodeKernelTable t;
  t.tiles[0][0] = mma_entry<64, KV, T, 1>();
  t.tiles[0][1] = mma_entry<64, KV, T, 2>();
  t.tiles[0][2] = mma_entry<64, KV, T, 4>();
  t.tiles[0][3] = mma_entry<64, KV, T, 8>();
  t.tiles[1][0] = mma_entry<128, KV, T, 1>();
  t.tiles[1][1] = mma_entry<128, KV, T, 2>();
  t.tiles[1][2] = mma_entry<128, KV, T, 4>();
  t.tiles[1][3] = mma_entry<128, KV, T, 8>();
  t.tiles[2][0] = mma_entry<256, KV, T, 1>();
  t.tiles[2][1] = mma_entry<256, KV, T, 2>();
  t.tiles[2][2] = mma_entry<256, KV, T, 4>();
  t.tiles[2][3] = mma_entry<256, KV, T, 8>();
  t.heads[0] = mma_entry<128, KV, T, 1, true>();
  t.heads[1] = mma_entry<128, KV, T, 2, true>();
  t.heads[2] = mma_entry<128, KV, T, 4, true>();
  t.heads[3] = mma_entry<128, KV, T, 8, true>();
  return t;
}

}  // namespace pagedkv::cuda_detail
