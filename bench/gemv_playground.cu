// GEMV playground (llm.c style): the small-M kernel (model/cuda/gemv.h) checked against cuBLASLt
// (model/cuda/gemm.h) and timed beside it on the 8B decoder's weight shapes, to decide whether
// decode at small batch takes the small-M path by default (Gemm::small_m_rows).
//
//   build/bench/pagedkv_gemv_playground [--iters 50]
// Prints, per (M, N, K): cuBLASLt, the GEMV kernel, the GEMV launched programmatically (each call
// overlapping the end of the one before: core/cuda/pdl.cuh) and the kernel with 8 loads in flight
// per lane, in µs and GB/s of weight bytes, and the largest difference between cuBLASLt's and the
// GEMV's outputs relative to the output's largest magnitude. Each timed call reads the next of
// several copies of w (over 512 MB together) so that w comes from HBM, as in a decode step, and
// not from the 50-60 MB L2.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_buffer.h"
#include "core/dtype.h"
#include "core/random.h"
#include "model/cuda/gemm.h"
#include "model/cuda/gemv.h"
#include "model/cuda/gemv_kernel.cuh"

namespace pagedkv {
namespace {

std::vector<uint16_t> random_bf16(Rng& rng, size_t n) {
  std::vector<uint16_t> v(n);
  for (uint16_t& b : v) b = f32_to_bf16(rng.normal(0.f, 0.05f));
  return v;
}

std::vector<float> floats_from_device(const DeviceBuffer& b, size_t n, DType t) {
  std::vector<float> out(n);
  if (t == DType::kF32) {
    b.to_host(out.data(), n * 4);
  } else {
    std::vector<uint16_t> h(n);
    b.to_host(h.data(), n * 2);
    for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(h[i]);
  }
  return out;
}

// f(i) runs the product on copy i of w.
template <typename F>
double time_us(F f, int iters, cudaStream_t s) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  f(0);  // warm-up (and the GEMM's plan)
  cudaEventRecord(a, s);
  for (int i = 0; i < iters; ++i) f(i + 1);
  cudaEventRecord(b, s);
  cuda_check(cudaEventSynchronize(b), "timing");
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return 1e3 * double(ms) / iters;
}

// The GEMV kernel with 8 16-byte loads in flight per lane instead of the product's 4.
template <int M, typename Y>
void launch8(const void* x, const void* w, void* y, int64_t N, int64_t K, cudaStream_t s) {
  using cuda::gemv_detail::kWarps;
  cuda::gemv_detail::gemv_kernel<M, Y, 8>
      <<<unsigned((N + kWarps - 1) / kWarps), kWarps * 32, 0, s>>>(
          static_cast<const uint4*>(x), static_cast<const uint4*>(w), static_cast<Y*>(y), N, K);
}

template <typename Y>
void gemv8_typed(const void* x, const void* w, void* y, int M, int64_t N, int64_t K,
                 cudaStream_t s) {
  switch (M) {
    case 1:
      return launch8<1, Y>(x, w, y, N, K, s);
    case 2:
      return launch8<2, Y>(x, w, y, N, K, s);
    case 4:
      return launch8<4, Y>(x, w, y, N, K, s);
    default:
      return launch8<8, Y>(x, w, y, N, K, s);
  }
}

void gemv8(const void* x, const void* w, void* y, DType t, int M, int64_t N, int64_t K,
           cudaStream_t s) {
  PKV_CHECK(M == 1 || M == 2 || M == 4 || M == 8, InvalidArgument, "gemv8: M = ", M);
  if (t == DType::kF32)
    gemv8_typed<float>(x, w, y, M, N, K, s);
  else
    gemv8_typed<__nv_bfloat16>(x, w, y, M, N, K, s);
}

int run(int iters) {
  PKV_CHECK(cuda_device_available(), Unsupported, "no CUDA device");
  struct Shape {
    const char* name;
    int N, K;
    DType y = DType::kBF16;
  };
  // Llama-3-8B: q|k|v, o, gate|up, down, lm_head.
  const Shape shapes[] = {{"qkv", 6144, 4096},
                          {"o", 4096, 4096},
                          {"gate_up", 28672, 4096},
                          {"down", 4096, 14336},
                          {"lm_head (f32 out)", 128256, 4096, DType::kF32}};
  Rng rng(3);
  cudaStream_t s;
  cuda_check(cudaStreamCreate(&s), "stream");
  cuda::Gemm gemm;
  gemm.set_small_m_rows(0);  // the cuBLASLt column: cuBLASLt at every M
  std::printf(
      "| shape | M | cuBLASLt us | GB/s | GEMV us | GB/s | GEMV PDL us | GB/s | "
      "GEMV 8-in-flight us | GB/s | cuBLASLt / GEMV | max diff |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const Shape& sh : shapes) {
    const size_t wn = size_t(sh.N) * sh.K;
    const std::vector<uint16_t> hw = random_bf16(rng, wn);
    const size_t copies = std::max<size_t>(1, (size_t(512) << 20) / (wn * 2) + 1);
    std::vector<DeviceBuffer> ws;
    for (size_t c = 0; c < copies; ++c) {
      ws.emplace_back(wn * 2, "w");
      cuda_check(cudaMemcpy(ws.back().data(), hw.data(), wn * 2, cudaMemcpyHostToDevice), "w");
    }
    const auto w = [&](int i) { return ws[size_t(i) % copies].data(); };
    for (const int M : {1, 2, 4, 8}) {
      const std::vector<uint16_t> hx = random_bf16(rng, size_t(M) * sh.K);
      const size_t ybytes = size_t(M) * sh.N * dtype_size(sh.y);
      DeviceBuffer x(hx.size() * 2, "x"), y1(ybytes, "y"), y2(ybytes, "y");
      cuda_check(cudaMemcpy(x.data(), hx.data(), hx.size() * 2, cudaMemcpyHostToDevice), "x");
      const double t1 = time_us(
          [&](int i) { gemm.linear(x.data(), w(i), y1.data(), sh.y, M, sh.N, sh.K, s); }, iters, s);
      const double t2 = time_us(
          [&](int i) { cuda::gemv(x.data(), w(i), y2.data(), sh.y, M, sh.N, sh.K, s); }, iters, s);
      const double tp = time_us(
          [&](int i) { cuda::gemv(x.data(), w(i), y2.data(), sh.y, M, sh.N, sh.K, s, true); },
          iters, s);
      const double t3 = time_us(
          [&](int i) { gemv8(x.data(), w(i), y2.data(), sh.y, M, sh.N, sh.K, s); }, iters, s);
      cuda::gemv(x.data(), w(0), y2.data(), sh.y, M, sh.N, sh.K, s);  // the product's result
      const size_t n = size_t(M) * sh.N;
      const std::vector<float> a = floats_from_device(y1, n, sh.y),
                               b = floats_from_device(y2, n, sh.y);
      double diff = 0, mag = 0;
      for (size_t i = 0; i < n; ++i) {
        diff = std::max(diff, double(std::fabs(a[i] - b[i])));
        mag = std::max(mag, double(std::fabs(a[i])));
      }
      const double gb = double(wn) * 2 / 1e9;
      std::printf(
          "| %s %dx%d | %d | %.1f | %.0f | %.1f | %.0f | %.1f | %.0f | %.1f | %.0f | %.2fx | "
          "%.1e |\n",
          sh.name, sh.N, sh.K, M, t1, gb / (t1 * 1e-6), t2, gb / (t2 * 1e-6), tp, gb / (tp * 1e-6),
          t3, gb / (t3 * 1e-6), t1 / t2, diff / mag);
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
