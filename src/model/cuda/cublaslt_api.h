#pragma once
// cuBLASLt, opened with dlopen on first use instead of linked: the library's load-time
// relocations alone make ~210 MB resident, which every `pagedkv` run — CPU runs and early error
// exits included — would otherwise pay. The functions keep cuBLASLt's own names and types.

#include <cublasLt.h>

namespace pagedkv::cuda {

#define PAGEDKV_CUBLASLT_FUNCTIONS(X)     \
  X(cublasLtCreate)                       \
  X(cublasLtDestroy)                      \
  X(cublasLtMatmul)                       \
  X(cublasLtMatmulAlgoCheck)              \
  X(cublasLtMatmulAlgoConfigGetAttribute) \
  X(cublasLtMatmulAlgoGetHeuristic)       \
  X(cublasLtMatmulDescCreate)             \
  X(cublasLtMatmulDescDestroy)            \
  X(cublasLtMatmulDescSetAttribute)       \
  X(cublasLtMatmulPreferenceCreate)       \
  X(cublasLtMatmulPreferenceDestroy)      \
  X(cublasLtMatmulPreferenceSetAttribute) \
  X(cublasLtMatrixLayoutCreate)           \
  X(cublasLtMatrixLayoutDestroy)

struct CublasLtApi {
#define PAGEDKV_CUBLASLT_POINTER(name) decltype(&::name) name = nullptr;
  PAGEDKV_CUBLASLT_FUNCTIONS(PAGEDKV_CUBLASLT_POINTER)
#undef PAGEDKV_CUBLASLT_POINTER
};

// Loads libcublasLt.so.<major> (the system's search path, else beside libcudart) on the first
// call. Error(Unsupported) naming the library and dlerror() when it cannot be loaded.
const CublasLtApi& cublaslt();

}  // namespace pagedkv::cuda
