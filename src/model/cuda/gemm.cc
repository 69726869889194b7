#include "model/cuda/gemm.h"

#include <cstdlib>

#include "core/error.h"
#include "model/cuda/cublaslt_api.h"
#include "model/cuda/gemv.h"

namespace pagedkv::cuda {

namespace {

void lt_check(cublasStatus_t s, const char* what) {
  PKV_CHECK(s == CUBLAS_STATUS_SUCCESS, Internal, "cuBLASLt ", what, ": status ", int(s));
}

constexpr size_t kWorkspaceBytes = size_t(32) << 20;  // what cuBLASLt's fast Hopper kernels ask

// The integer value of environment variable `name`, or `fallback` when unset.
int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  PKV_CHECK(*end == '\0', InvalidArgument, name, "=", v, ": expected an integer");
  return n;
}

}  // namespace

// One shape's descriptors and algorithm. Column-major view of the row-major product:
// yᵀ [N, M] = w' [N, K] · xᵀ [K, M], where w' is w (row-major [N, K], i.e. column-major K x N,
// transposed) or w input-major (row-major [K, N], i.e. column-major N x K, as is).
struct Gemm::Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~Plan() {
    if (op) cublaslt().cublasLtMatmulDescDestroy(op);
    if (a) cublaslt().cublasLtMatrixLayoutDestroy(a);
    if (b) cublaslt().cublasLtMatrixLayoutDestroy(b);
    if (c) cublaslt().cublasLtMatrixLayoutDestroy(c);
  }
};

Gemm::Gemm() : workspace_(kWorkspaceBytes, "cuBLASLt workspace") {
  lt_check(cublaslt().cublasLtCreate(&handle_), "create");
  set_small_m_rows(env_int("PAGEDKV_SMALL_M_GEMV", small_m_rows_));
  programmatic_ = env_int("PAGEDKV_PDL", 1) != 0;
}

Gemm::~Gemm() {
  plans_.clear();
  if (handle_) cublaslt().cublasLtDestroy(handle_);
}

void Gemm::set_small_m_rows(int64_t rows) {
  PKV_CHECK(rows >= 0 && rows <= kGemvMaxRows, InvalidArgument, "small-M rows ", rows, " (0 to ",
            kGemvMaxRows, ")");
  small_m_rows_ = rows;
}

void Gemm::set_batch_invariant(bool on) { batch_invariant_ = on; }

void Gemm::linear(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N,
                  int64_t K, cudaStream_t stream) {
  if (!batch_invariant_ && M <= small_m_rows_ && gemv_takes(M, K, x, w))
    return gemv(x, w, y, y_dtype, M, N, K, stream, programmatic_);
  run(true, x, w, y, y_dtype, M, N, K, stream);
}

void Gemm::matmul_kn(const void* x, const void* w, void* y, DType y_dtype, int64_t M, int64_t N,
                     int64_t K, cudaStream_t stream) {
  run(false, x, w, y, y_dtype, M, N, K, stream);
}

std::unique_ptr<Gemm::Plan> Gemm::make_plan(bool w_transposed, DType y_dtype, int64_t M, int64_t N,
                                            int64_t K) const {
  auto p = std::make_unique<Plan>();
  lt_check(cublaslt().cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc");
  const cublasOperation_t ta = w_transposed ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
  lt_check(cublaslt().cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta,
                                                     sizeof(ta)),
           "transa");
  lt_check(cublaslt().cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb,
                                                     sizeof(tb)),
           "transb");
  // A: w' as stored (column-major): K x N (ld K) when transposed, N x K (ld N) otherwise.
  lt_check(w_transposed ? cublaslt().cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, K, N, K)
                        : cublaslt().cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, N, K, N),
           "layout A");
  lt_check(cublaslt().cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, K, M, K), "layout B");
  const cudaDataType_t ct = y_dtype == DType::kF32 ? CUDA_R_32F : CUDA_R_16BF;
  lt_check(cublaslt().cublasLtMatrixLayoutCreate(&p->c, ct, N, M, N), "layout C");
  return p;
}

// The heuristic's first algorithm for the plan's shape; with `unsplit`, the first that splits no
// reduction (over K) across CTAs, found among the heuristic's top candidates.
cublasLtMatmulAlgo_t Gemm::pick_algo(const Plan& p, bool unsplit, int64_t M, int64_t N,
                                     int64_t K) const {
  cublasLtMatmulPreference_t pref = nullptr;
  lt_check(cublaslt().cublasLtMatmulPreferenceCreate(&pref), "preference");
  const size_t ws = workspace_.bytes();
  cublasStatus_t s = cublaslt().cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  if (unsplit && s == CUBLAS_STATUS_SUCCESS) {
    const uint32_t none = CUBLASLT_REDUCTION_SCHEME_NONE;
    s = cublaslt().cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &none, sizeof(none));
  }
  constexpr int kCandidates = 16;
  cublasLtMatmulHeuristicResult_t results[kCandidates] = {};
  int found = 0;
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublaslt().cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.a, p.b, p.c, p.c, pref,
                                                  unsplit ? kCandidates : 1, results, &found);
  cublaslt().cublasLtMatmulPreferenceDestroy(pref);
  lt_check(s, "heuristic");
  for (int i = 0; i < found; ++i) {
    if (!unsplit) return results[i].algo;
    int32_t splits = 0;
    size_t written = 0;
    lt_check(
        cublaslt().cublasLtMatmulAlgoConfigGetAttribute(
            &results[i].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splits, sizeof(splits), &written),
        "split-K attribute");
    if (splits <= 1) return results[i].algo;
  }
  PKV_CHECK(false, Unsupported, "cuBLASLt has no ", unsplit ? "unsplit " : "", "algorithm for ", M,
            " x ", N, " x ", K);
  return {};
}

void Gemm::run(bool w_transposed, const void* x, const void* w, void* y, DType y_dtype, int64_t M,
               int64_t N, int64_t K, cudaStream_t stream) {
  PKV_CHECK(y_dtype == DType::kBF16 || y_dtype == DType::kF32, Unsupported, "Gemm: result dtype ",
            dtype_name(y_dtype));
  if (M == 0) return;
  const auto key = std::make_tuple(batch_invariant_, w_transposed, int(y_dtype), M, N, K);
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    std::unique_ptr<Plan> p = make_plan(w_transposed, y_dtype, M, N, K);
    if (!batch_invariant_) {
      p->algo = pick_algo(*p, false, M, N, K);
    } else {
      // One configuration for every M: picked once per weight shape at kInvariantRows rows.
      const auto shape = std::make_tuple(w_transposed, int(y_dtype), N, K);
      auto pinned = invariant_algos_.find(shape);
      if (pinned == invariant_algos_.end()) {
        const std::unique_ptr<Plan> ref = make_plan(w_transposed, y_dtype, kInvariantRows, N, K);
        pinned = invariant_algos_.emplace(shape, pick_algo(*ref, true, kInvariantRows, N, K)).first;
      }
      p->algo = pinned->second;
      cublasLtMatmulHeuristicResult_t check{};
      PKV_CHECK(cublaslt().cublasLtMatmulAlgoCheck(handle_, p->op, p->a, p->b, p->c, p->c, &p->algo,
                                                   &check) == CUBLAS_STATUS_SUCCESS &&
                    check.workspaceSize <= workspace_.bytes(),
                Unsupported, "cuBLASLt's batch-invariant configuration for ", N, " x ", K,
                " does not take ", M, " rows");
    }
    it = plans_.emplace(key, std::move(p)).first;
  }
  const Plan& p = *it->second;
  const float alpha = 1.f, beta = 0.f;
  lt_check(cublaslt().cublasLtMatmul(handle_, p.op, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c,
                                     &p.algo, workspace_.data(), workspace_.bytes(), stream),
           "matmul");
}

}  // namespace pagedkv::cuda
