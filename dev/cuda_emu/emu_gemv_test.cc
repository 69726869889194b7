// The small-M GEMV kernel (src/model/cuda/gemv_kernel.cuh) on the emulator: every M against an
// f64 product, K with and without a partial last pass, N not a multiple of the CTA's 8 columns,
// each row bit-identical to the row alone, bf16 and f32 results, and no load outside x or w.
#include "emu.h"
#include "emu_launch.h"
#include "model/cuda/gemv_kernel.cuh"

#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/random.h"

namespace pagedkv {
namespace {

using cuda::gemv_detail::gemv_kernel;
using cuda::gemv_detail::kWarps;

template <int M, typename Y>
void run_m(const uint4* x, const uint4* w, Y* y, int64_t N, int64_t K) {
  const dim3 grid(unsigned((N + kWarps - 1) / kWarps));
  for (unsigned b = 0; b < grid.x; ++b)
    emu::run_cta(make_uint3(b, 0, 0), grid, dim3(kWarps * 32), nullptr, 0,
                 [&] { gemv_kernel<M, Y>(x, w, y, N, K); });
}

template <typename Y, int M = 1>
void run(int64_t m, const uint4* x, const uint4* w, Y* y, int64_t N, int64_t K) {
  if constexpr (M <= 8) {
    if (m == M) return run_m<M, Y>(x, w, y, N, K);
    run<Y, M + 1>(m, x, w, y, N, K);
  }
}

// Exact bf16 values, their bits as the kernel reads them, registered as global memory.
struct Bf16Buffer {
  std::vector<float> values;
  std::vector<uint16_t> bits;
  Bf16Buffer(Rng& rng, int64_t n) : values(size_t(n)), bits(size_t(n)) {
    rng.fill_normal(values);
    for (size_t i = 0; i < values.size(); ++i) {
      bits[i] = f32_to_bf16(values[i]);
      values[i] = bf16_to_f32(bits[i]);
    }
    emu::register_global(bits.data(), bits.size() * 2);
  }
  ~Bf16Buffer() { emu::unregister_global(bits.data()); }
  const uint4* data(int64_t offset = 0) const {
    return reinterpret_cast<const uint4*>(bits.data() + offset);
  }
};

TEST(GemvEmu, EveryMMatchesF64AndEachRowAlone) {
  emu::set_mode(0, 11);
  Rng rng(5);
  for (const auto& [N, K] : {std::pair<int64_t, int64_t>{13, 1024}, {40, 264}, {9, 8}}) {
    const Bf16Buffer w(rng, N * K);
    for (int64_t M = 1; M <= 8; ++M) {
      SCOPED_TRACE(::testing::Message() << "M " << M << " N " << N << " K " << K);
      const Bf16Buffer x(rng, M * K);
      std::vector<float> y(size_t(M * N), NAN), alone(size_t(N), NAN);
      std::vector<__nv_bfloat16> y16(size_t(M * N));
      run<float>(M, x.data(), w.data(), y.data(), N, K);
      run<__nv_bfloat16>(M, x.data(), w.data(), y16.data(), N, K);
      run<float>(1, x.data((M - 1) * K), w.data(), alone.data(), N, K);
      double num = 0, den = 0;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double ref = 0;
          for (int64_t k = 0; k < K; ++k) ref += double(x.values[m * K + k]) * w.values[n * K + k];
          const float got = y[m * N + n];
          num += (got - ref) * (got - ref);
          den += ref * ref;
          EXPECT_NEAR(float(y16[m * N + n]), got, 1e-2 * std::fabs(got) + 1e-6);
        }
      EXPECT_LE(std::sqrt(num / den), 1e-5);
      for (int64_t n = 0; n < N; ++n) EXPECT_EQ(alone[n], y[(M - 1) * N + n]) << "column " << n;
    }
  }
}

}  // namespace
}  // namespace pagedkv
