// GEMV playground (llm.c style): a small-M bf16 matrix product kernel checked against cuBLASLt
// (model/cuda/gemm.h) and timed beside it on the 8B decoder's weight shapes, to decide whether
// decode at small batch needs its own GEMM path. Not used by the product.
//
//   build/bench/pagedkv_gemv_playground [--iters 50]
// Prints, per (M, N, K): cuBLASLt and the GEMV kernel in µs and GB/s of weight bytes, and the
// largest difference between their outputs relative to the output's largest magnitude.

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_buffer.h"
#include "core/random.h"
#include "model/cuda/gemm.h"

namespace pagedkv {
namespace {

constexpr int kWarps = 8;  // one output column per warp per pass

// y [M, N] = x [M, K] · w [N, K]ᵀ, bf16 in, f32 accumulation, bf16 out. One warp per output
// column n: each lane loads 16-byte chunks of w's row (4 in flight), multiplies them by the M rows
// of x (read through L1: every warp of the CTA reads the same x), and the warp reduces. K % 256 == 0.
template <int M>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_bf16(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w,
              __nv_bfloat16* __restrict__ y, int N, int K) {
  const int lane = threadIdx.x % 32;
  const int n = blockIdx.x * kWarps + threadIdx.x / 32;
  if (n >= N) return;
  const uint4* wr = reinterpret_cast<const uint4*>(w + int64_t(n) * K);
  float acc[M] = {};
  const int chunks = K / 8;  // 16-byte chunks per row
  for (int c0 = lane; c0 < chunks; c0 += 32 * 4) {
    uint4 wv[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int c = c0 + u * 32;
      wv[u] = c < chunks ? __ldcs(wr + c) : make_uint4(0, 0, 0, 0);  // streamed once
    }
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int c = c0 + u * 32;
      if (c >= chunks) break;
      const __nv_bfloat162* wp = reinterpret_cast<const __nv_bfloat162*>(&wv[u]);
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x + int64_t(m) * K) + c);
        const __nv_bfloat162* xp = reinterpret_cast<const __nv_bfloat162*>(&xv);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float2 wf = __bfloat1622float2(wp[j]), xf = __bfloat1622float2(xp[j]);
          acc[m] = fmaf(wf.x, xf.x, acc[m]);
          acc[m] = fmaf(wf.y, xf.y, acc[m]);
        }
      }
    }
  }
#pragma unroll
  for (int m = 0; m < M; ++m) {
    float v = acc[m];
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) y[int64_t(m) * N + n] = __float2bfloat16(v);
  }
}

void gemv(int M, const void* x, const void* w, void* y, int N, int K, cudaStream_t s) {
  const dim3 grid((N + kWarps - 1) / kWarps), block(kWarps * 32);
  const auto* xb = static_cast<const __nv_bfloat16*>(x);
  const auto* wb = static_cast<const __nv_bfloat16*>(w);
  auto* yb = static_cast<__nv_bfloat16*>(y);
  switch (M) {
    case 1: gemv_bf16<1><<<grid, block, 0, s>>>(xb, wb, yb, N, K); break;
    case 2: gemv_bf16<2><<<grid, block, 0, s>>>(xb, wb, yb, N, K); break;
    case 4: gemv_bf16<4><<<grid, block, 0, s>>>(xb, wb, yb, N, K); break;
    case 8: gemv_bf16<8><<<grid, block, 0, s>>>(xb, wb, yb, N, K); break;
    default: fail(ErrorKind::kInvalidArgument, str_cat("gemv: M = ", M));
  }
  cuda_check(cudaGetLastError(), "gemv launch");
}

std::vector<uint16_t> random_bf16(Rng& rng, size_t n) {
  std::vector<uint16_t> v(n);
  for (uint16_t& b : v) {
    const float f = rng.normal(0.f, 0.05f);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    b = uint16_t((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
  }
  return v;
}

float bf16_to_float(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

template <typename F>
double time_us(F f, int iters, cudaStream_t s) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  f();  // warm-up (and the GEMM's plan)
  cudaEventRecord(a, s);
  for (int i = 0; i < iters; ++i) f();
  cudaEventRecord(b, s);
  cuda_check(cudaEventSynchronize(b), "timing");
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return 1e3 * double(ms) / iters;
}

int run(int iters) {
  PKV_CHECK(cuda_device_available(), Unsupported, "no CUDA device");
  struct Shape {
    const char* name;
    int N, K;
  };
  // Llama-3-8B: q|k|v, o, gate|up, down, lm_head.
  const Shape shapes[] = {{"qkv", 6144, 4096},
                          {"o", 4096, 4096},
                          {"gate_up", 28672, 4096},
                          {"down", 4096, 14336},
                          {"lm_head(bf16 out)", 128256, 4096}};
  Rng rng(3);
  cudaStream_t s;
  cuda_check(cudaStreamCreate(&s), "stream");
  cuda::Gemm gemm;
  std::printf("| shape | M | cuBLASLt us | GB/s | GEMV us | GB/s | GEMV / cuBLASLt | max diff |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const Shape& sh : shapes) {
    const size_t wn = size_t(sh.N) * sh.K;
    const std::vector<uint16_t> hw = random_bf16(rng, wn);
    DeviceBuffer w(wn * 2, "w");
    cuda_check(cudaMemcpy(w.data(), hw.data(), wn * 2, cudaMemcpyHostToDevice), "w");
    for (const int M : {1, 2, 4, 8}) {
      const std::vector<uint16_t> hx = random_bf16(rng, size_t(M) * sh.K);
      DeviceBuffer x(hx.size() * 2, "x"), y1(size_t(M) * sh.N * 2, "y"), y2(size_t(M) * sh.N * 2, "y");
      cuda_check(cudaMemcpy(x.data(), hx.data(), hx.size() * 2, cudaMemcpyHostToDevice), "x");
      const double t1 = time_us(
          [&] { gemm.linear(x.data(), w.data(), y1.data(), DType::kBF16, M, sh.N, sh.K, s); }, iters,
          s);
      const double t2 = time_us([&] { gemv(M, x.data(), w.data(), y2.data(), sh.N, sh.K, s); },
                                iters, s);
      std::vector<uint16_t> a(size_t(M) * sh.N), b(a.size());
      cuda_check(cudaMemcpy(a.data(), y1.data(), a.size() * 2, cudaMemcpyDeviceToHost), "y1");
      cuda_check(cudaMemcpy(b.data(), y2.data(), b.size() * 2, cudaMemcpyDeviceToHost), "y2");
      double diff = 0, mag = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, double(std::fabs(bf16_to_float(a[i]) - bf16_to_float(b[i]))));
        mag = std::max(mag, double(std::fabs(bf16_to_float(a[i]))));
      }
      const double gb = double(wn) * 2 / 1e9;
      std::printf("| %s %dx%d | %d | %.1f | %.0f | %.1f | %.0f | %.2fx | %.1e |\n", sh.name, sh.N,
                  sh.K, M, t1, gb / (t1 * 1e-6), t2, gb / (t2 * 1e-6), t1 / t2, diff / mag);
    }
  }
  cudaStreamDestroy(s);
  return 0;
}

}  // namespace
}  // namespace pagedkv

int main(int argc, char** argv) {
  int iters = 50;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--iters") iters = std::stoi(argv[i + 1]);
  try {
    return pagedkv::run(iters);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pagedkv_gemv_playground: %s\n", e.what());
    return 1;
  }
}
