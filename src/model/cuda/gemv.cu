#include "core/cuda/cuda_check.h"
#include "core/cuda/pdl.cuh"
#include "core/error.h"
#include "model/cuda/gemv.h"
#include "model/cuda/gemv_kernel.cuh"

namespace pagedkv::cuda {

namespace {

using gemv_detail::gemv_kernel;
using gemv_detail::kWarps;

template <typename Y>
void launch(const void* x, const void* w, void* y, int64_t M, int64_t N, int64_t K,
            bool programmatic, cudaStream_t s) {
  const dim3 grid(unsigned((N + kWarps - 1) / kWarps)), block(kWarps * 32);
  const auto* xb = static_cast<const uint4*>(x);  // 16-byte chunks (gemv_takes: aligned)
  const auto* wb = static_cast<const uint4*>(w);
  auto* yt = static_cast<Y*>(y);
  switch (M) {  // M is a template argument: the accumulators stay in registers
#define PAGEDKV_GEMV_CASE(m)                                                                    \
  case m:                                                                                       \
    cuda_check(                                                                                 \
        launch_programmatic(programmatic, gemv_kernel<m, Y>, grid, block, s, xb, wb, yt, N, K), \
        "gemv launch");                                                                         \
    break;
    PAGEDKV_GEMV_CASE(1)
    PAGEDKV_GEMV_CASE(2)
    PAGEDKV_GEMV_CASE(3)
    PAGEDKV_GEMV_CASE(4)
    PAGEDKV_GEMV_CASE(5)
    PAGEDKV_GEMV_CASE(6)
    PAGEDKV_GEMV_CASE(7)
    PAGEDKV_GEMV_CASE(8)
#undef PAGEDKV_GEMV_CASE
    default:
      fail(ErrorKind::kInvalidArgument, str_cat("gemv: M = ", M));
  }
}

}  // namespace

bool gemv_takes(int64_t M, int64_t K, const void* x, const void* w) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return M >= 1 && M <= kGemvMaxRows && K > 0 && K % 8 == 0 && aligned(x) && aligned(w);
}

void gemv(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N, int64_t K,
          cudaStream_t stream, bool programmatic) {
  PKV_CHECK(gemv_takes(M, K, x, w), InvalidArgument, "gemv: M = ", M, ", K = ", K, " (wants 1..",
            kGemvMaxRows, " rows, K a multiple of 8, 16-byte aligned operands)");
  PKV_CHECK(N > 0 && (N + kWarps - 1) / kWarps <= int64_t(0x7fffffff), InvalidArgument,
            "gemv: N = ", N);
  if (y_dtype == DType::kBF16) {
    launch<__nv_bfloat16>(x, w, y, M, N, K, programmatic, stream);
  } else {
    PKV_CHECK(y_dtype == DType::kF32, InvalidArgument, "gemv: result dtype ", dtype_name(y_dtype));
    launch<float>(x, w, y, M, N, K, programmatic, stream);
  }
}

}  // namespace pagedkv::cuda
