#pragma once
// cuda_check: the one way pagedkv turns a CUDA runtime status into an Error.

#include <cuda_runtime_api.h>

#include "core/error.h"

namespace pagedkv {

// Throws Error when `err` is not cudaSuccess, with a message naming the call (`what...`, joined as
// by str_cat) and CUDA's description: ErrorKind::kOutOfMemory for an allocation failure
// (cudaErrorMemoryAllocation), ErrorKind::kInternal for every other CUDA error. The runtime's
// last-error state is cleared first, so a reported non-sticky error does not resurface at the next
// kernel launch check.
template <typename... What>
void cuda_check(cudaError_t err, const What&... what) {
  if (err == cudaSuccess) return;
  (void)cudaGetLastError();
  fail(err == cudaErrorMemoryAllocation ? ErrorKind::kOutOfMemory : ErrorKind::kInternal,
       str_cat(what..., ": ", cudaGetErrorString(err)));
}

// True when a CUDA device is present and usable (GPU tests skip visibly otherwise).
inline bool cuda_device_available() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return n > 0;
}

}  // namespace pagedkv
