// dev/cuda_emu: the prefill kernel tables of prefill_kernel_args.h with the real kernel source
// (src/attention/cuda/paged_prefill_mma.cuh) run on the emulator, one CTA at a time.
#include "emu.h"
#include "emu_launch.h"
namespace pagedkv::cuda_detail {
alignas(1024) uint8_t smem[240 * 1024];
}
#include "attention/cuda/paged_prefill_mma.cuh"
#include "attention/cuda/prefill_kernel_args.h"

namespace pagedkv::cuda_detail {

template <int D, bool kFp8, typename QT, typename T>
PrefillKernelEntry emu_entry() {
  using C = PrefillCfg<D, kFp8>;
  PrefillKernelEntry e;
  e.fn = reinterpret_cast<const void*>(&paged_prefill_mma_kernel<D, kFp8, QT, T>);
  e.smem = C::kSmemBytes;
  e.threads = C::kThreads;
  e.rows_per_cta = C::kM;
  e.launch = [](dim3 grid, int smem_bytes, cudaStream_t, const PrefillKernelArgs& a) {
    if (smem_bytes != C::kSmemBytes) emu::die("smem size");
    auto job = [grid, smem_bytes, a] {
      for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
          for (unsigned x = 0; x < grid.x; ++x)
            emu::run_cta(make_uint3(x, y, z), grid, dim3(C::kThreads), smem, size_t(smem_bytes),
                         [&] { paged_prefill_mma_kernel<D, kFp8, QT, T>(a); });
    };
    if (emu::capturing()) emu::record(job);
    else job();
  };
  return e;
}
template <bool kFp8, typename QT, typename T>
PrefillKernelTable emu_table() {
  PrefillKernelTable t;
  t.dims[0] = emu_entry<64, kFp8, QT, T>();
  t.dims[1] = emu_entry<128, kFp8, QT, T>();
  t.dims[2] = emu_entry<256, kFp8, QT, T>();
  return t;
}
const PrefillKernelTable& prefill_kernels_bf16() {
  static const PrefillKernelTable t = emu_table<false, __nv_bfloat16, __nv_bfloat16>();
  return t;
}
const PrefillKernelTable& prefill_kernels_f16() {
  static const PrefillKernelTable t = emu_table<false, __half, __half>();
  return t;
}
const PrefillKernelTable& prefill_kernels_fp8_bf16() {
  static const PrefillKernelTable t = emu_table<true, __nv_bfloat16, __half>();
  return t;
}
const PrefillKernelTable& prefill_kernels_fp8_f16() {
  static const PrefillKernelTable t = emu_table<true, __half, __half>();
  return t;
}
}  // namespace pagedkv::cuda_detail
