#pragma once
// Table entries of the paged prefill kernel (see prefill_kernel_args.h), for the translation
// units that instantiate it, one per (q, KV) dtype family.

#include "attention/cuda/paged_prefill_mma.cuh"
#include "attention/cuda/prefill_kernel_args.h"

namespace pagedkv::cuda_detail {

template <int D, bool kFp8, typename QT, typename T>
PrefillKernelEntry prefill_entry() {
  using C = PrefillCfg<D, kFp8>;
  PrefillKernelEntry e;
  e.fn = reinterpret_cast<const void*>(&paged_prefill_mma_kernel<D, kFp8, QT, T>);
  e.smem = C::kSmemBytes;
  e.threads = C::kThreads;
  e.rows_per_cta = C::kM;
  e.launch = [](dim3 grid, int smem, cudaStream_t st, const PrefillKernelArgs& a) {
    paged_prefill_mma_kernel<D, kFp8, QT, T><<<grid, C::kThreads, smem, st>>>(a);
  };
  return e;
}

// QT: q / out type; T: mma operand type (f16 for fp8 KV).
template <bool kFp8, typename QT, typename T>
PrefillKernelTable make_prefill_table() {
  PrefillKernelTable t;
  t.dims[0] = prefill_entry<64, kFp8, QT, T>();
  t.dims[1] = prefill_entry<128, kFp8, QT, T>();
  t.dims[2] = prefill_entry<256, kFp8, QT, T>();
  return t;
}

}  // namespace pagedkv::cuda_detail
