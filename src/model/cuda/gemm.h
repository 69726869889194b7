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

  // y [M, N] = x [M, K] · w[N, K]ᵀ: w as nn.Linear stores it (row-major [out, in]).
  void linear(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N, int64_t K,
              cudaStream_t stream);
  // y [M, N] = x [M, K] · w[K, N]: w input-major (Llama 4's experts).
  void matmul_kn(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N,
                 int64_t K, cudaStream_t stream);

 private:
  struct Plan;
  void run(bool w_transposed, const void* x, const void* w, void* y, DType y_dtype, int64_t M,
           int64_t N, int64_t K, cudaStream_t stream);

  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  std::map<std::tuple<bool, int, int64_t, int64_t, int64_t>, std::unique_ptr<Plan>> plans_;
};

}  // namespace pagedkv::cuda
