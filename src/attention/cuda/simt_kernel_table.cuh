#pragma once
// Table entries of the CUDA-core kernel (see decode_kernel_table.h), for the three translation
// units that instantiate it, one per KV dtype.

#include "attention/cuda/decode_kernel_table.h"
#include "attention/cuda/paged_decode_kernel.cuh"

namespace pagedkv::cuda_detail {

// CUDA-core kernel (any q dtype, any KV dtype).
template <int D, KvKind KV, int GP>
KernelEntry simt_entry() {
  KernelEntry e;
  e.fn = reinterpret_cast<const void*>(&paged_decode_kernel<D, KV, GP>);
  e.smem = Cfg<D, KV>::kSmemBytes;
  e.launch = [](dim3 grid, int smem, cudaStream_t st, const KernelArgs& a) {
    paged_decode_kernel<D, KV, GP><<<grid, kThreads, smem, st>>>(a);
  };
  return e;
}

template <KvKind KV>
DecodeKernelTable make_simt_table() {
  DecodeKernelTable t;
  t.tiles[0][0] = simt_entry<64, KV, 1>();
  t.tiles[0][1] = simt_entry<64, KV, 2>();
  t.tiles[0][2] = simt_entry<64, KV, 4>();
  t.tiles[0][3] = simt_entry<64, KV, 8>();
  t.tiles[1][0] = simt_entry<128, KV, 1>();
  t.tiles[1][1] = simt_entry<128, KV, 2>();
  t.tiles[1][2] = simt_entry<128, KV, 4>();
  t.tiles[1][3] = simt_entry<128, KV, 8>();
  t.tiles[2][0] = simt_entry<256, KV, 1>();
  t.tiles[2][1] = simt_entry<256, KV, 2>();
  t.tiles[2][2] = simt_entry<256, KV, 4>();
  t.tiles[2][3] = simt_entry<256, KV, 8>();
  return t;
}

}  // namespace pagedkv::cuda_detail
