// Emulated decode kernel tables (the GPU-verified decode kernels, run on the emulator).
#include "emu.h"
#include "emu_launch.h"
namespace pagedkv::cuda_detail {
alignas(1024) uint8_t smem[240 * 1024];
}
#include "attention/cuda/decode_kernel_table.h"
#include "attention/cuda/paged_decode_mma.cuh"
#include "attention/cuda/paged_decode_kernel.cuh"

namespace pagedkv::cuda_detail {
template <int D, KvKind KV, typename T, int GP, bool HEADS = false>
KernelEntry mma_entry() {
  KernelEntry e;
  e.fn = reinterpret_cast<const void*>(&paged_decode_mma_kernel<D, KV, T, GP, HEADS>);
  constexpr int kCtaThreads = 32 * (HEADS ? kHeadsWarps : kWarps);
  e.smem = HEADS ? MmaCfg<D, KV>::kHeadsSmemBytes : MmaCfg<D, KV>::kSmemBytes;
  e.threads = kCtaThreads;
  e.launch = [](dim3 grid, int smem_bytes, cudaStream_t, const KernelArgs& a) {
    for (unsigned z = 0; z < grid.z; ++z)
      for (unsigned y = 0; y < grid.y; ++y)
        for (unsigned x = 0; x < grid.x; ++x)
          emu::run_cta(make_uint3(x, y, z), grid, dim3(kCtaThreads), smem, size_t(smem_bytes),
                       [&] { paged_decode_mma_kernel<D, KV, T, GP, HEADS>(a); });
  };
  return e;
}
template <KvKind KV, typename T>
DecodeKernelTable make_table() {
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
const DecodeKernelTable& mma_kernels_bf16() { static auto t = make_table<KvKind::kBF16, __nv_bfloat16>(); return t; }
const DecodeKernelTable& mma_kernels_f16() { static auto t = make_table<KvKind::kF16, __half>(); return t; }
const DecodeKernelTable& mma_kernels_fp8() { static auto t = make_table<KvKind::kFP8, __half>(); return t; }
const DecodeKernelTable& simt_kernels_bf16() { static DecodeKernelTable t; return t; }
const DecodeKernelTable& simt_kernels_f16() { static DecodeKernelTable t; return t; }
const DecodeKernelTable& simt_kernels_fp8() { static DecodeKernelTable t; return t; }
}  // namespace pagedkv::cuda_detail
