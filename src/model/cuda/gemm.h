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

  // y [M, N] = x [M, K] · w[N, K]ᵀ: w as nn.Linear stores it (row-major [out, in]). M <=
  // small_m_rows() goes to gemv.h's kernel instead of cuBLASLt.
  void linear(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N, int64_t K,
              cudaStream_t stream);
  // y [M, N] = x [M, K] · w[K, N]: w input-major (Llama 4's experts).
  void matmul_kn(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N,
                 int64_t K, cudaStream_t stream);

  // linear() hands products of M <= small_m_rows() to the small-M kernel (gemv.h), launched
  // programmatically (core/cuda/pdl.cuh) unless PAGEDKV_PDL=0. On an H200 at M = 1 it streams the
  // 8B decoder's weights 1.0-1.6x faster than cuBLASLt's pick (the small q|k|v and o products gain
  // most), and loses from M = 2 on, so the default is 1. The environment sets both when the Gemm
  // is made: PAGEDKV_SMALL_M_GEMV=N (0: never; up to kGemvMaxRows), PAGEDKV_PDL=0 (off).
  void set_small_m_rows(int64_t rows);
  int64_t small_m_rows() const { return small_m_rows_; }

 private:
  struct Plan;
  void run(bool w_transposed, const void* x, const void* w, void* y, DType y_dtype, int64_t M,
           int64_t N, int64_t K, cudaStream_t stream);

  cublasLtHandle_t handle_ = nullptr;
  int64_t small_m_rows_ = 1;
  bool programmatic_ = true;
  DeviceBuffer workspace_;
  std::map<std::tuple<bool, int, int64_t, int64_t, int64_t>, std::unique_ptr<Plan>> plans_;
};

}  // namespace pagedkv::cuda
