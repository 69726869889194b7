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
  bool programmatic() const { return programmatic_; }  // PAGEDKV_PDL (default on)

  // Batch-invariant mode: row i of a product gets the same bits whatever M is, so a request's
  // tokens do not depend on which others share its batch (vLLM's and SGLang's deterministic
  // modes). cuBLASLt picks its kernel, tile and split-K per M, and the small-M kernel rounds
  // differently from cuBLASLt; here every product of one weight shape runs the one configuration
  // the heuristic picks at kInvariantRows rows among those that do not split K (each output's sum
  // over K runs in one fixed order in one CTA), whatever M. Cost: small M runs a tile made for
  // kInvariantRows (fewer CTAs), large M one that is not its best.
  static constexpr int64_t kInvariantRows = 128;
  void set_batch_invariant(bool on);
  bool batch_invariant() const { return batch_invariant_; }

 private:
  struct Plan;
  std::unique_ptr<Plan> make_plan(bool w_transposed, DType y_dtype, int64_t M, int64_t N,
                                  int64_t K) const;
  cublasLtMatmulAlgo_t pick_algo(const Plan& p, bool unsplit, int64_t M, int64_t N,
                                 int64_t K) const;
  void run(bool w_transposed, const void* x, const void* w, void* y, DType y_dtype, int64_t M,
           int64_t N, int64_t K, cudaStream_t stream);

  cublasLtHandle_t handle_ = nullptr;
  int64_t small_m_rows_ = 1;
  bool programmatic_ = true;
  bool batch_invariant_ = false;
  DeviceBuffer workspace_;
  std::map<std::tuple<bool, bool, int, int64_t, int64_t, int64_t>, std::unique_ptr<Plan>> plans_;
  std::map<std::tuple<bool, int, int64_t, int64_t>, cublasLtMatmulAlgo_t> invariant_algos_;
};

}  // namespace pagedkv::cuda
