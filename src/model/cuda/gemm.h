#pragma once
// Gemm: the decoder's matrix products through cuBLASLt — bf16 operands, f32 accumulation, bf16
// or f32 results. Descriptors and the heuristic's algorithm are cached per shape, so a steady
// decode loop does no planning. Biases are not fused here: the elementwise kernel that consumes
// each product adds them on the way (model_kernels.h), which costs no extra pass.

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "core/cuda/device_buffer.h"
#include "core/dtype.h"

namespace pagedkv::cuda {

class Gemm {
 public:
  Gemm();
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // y [M, N] = x [M, K] · w[N, K]ᵀ: w as nn.Linear stores it (row-major [out, in]). With the
  // small-M path on, M <= kGemvMaxRows goes to gemv.h's kernel instead of cuBLASLt.
  void linear(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N, int64_t K,
              cudaStream_t stream);
  // y [M, N] = x [M, K] · w[K, N]: w input-major (Llama 4's experts).
  void matmul_kn(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N,
                 int64_t K, cudaStream_t stream);

  // The small-M path (gemv.h) for linear(): off unless PAGEDKV_SMALL_M_GEMV=1 in the environment
  // when the Gemm is made, until a device run shows it faster than cuBLASLt at M = 1..8.
  void set_small_m_gemv(bool on) { small_m_gemv_ = on; }
  bool small_m_gemv() const { return small_m_gemv_; }
  // The small-M kernels launched with programmatic dependent launch (core/cuda/pdl.cuh): off
  // unless PAGEDKV_PDL=1 when the Gemm is made, until a device run shows it faster.
  void set_programmatic_launch(bool on) { programmatic_ = on; }

 private:
  struct Plan;
  void run(bool w_transposed, const void* x, const void* w, void* y, DType y_dtype, int64_t M,
           int64_t N, int64_t K, cudaStream_t stream);

  cublasLtHandle_t handle_ = nullptr;
  bool small_m_gemv_ = false;
  bool programmatic_ = false;
  DeviceBuffer workspace_;
  std::map<std::tuple<bool, int, int64_t, int64_t, int64_t>, std::unique_ptr<Plan>> plans_;
};

}  // namespace pagedkv::cuda
