#pragma once
// The head dims the GPU attention kernels (decode and prefill) are built for, and the row of
// each in their kernel tables. Plain C++ (host code and the model's checks include it).

#include "core/error.h"

namespace pagedkv {

inline bool is_gpu_head_dim(int64_t head_dim) {
  return head_dim == 64 || head_dim == 128 || head_dim == 256;
}

// Row of a head dim in the kernel tables; Error(Unsupported) naming `who` otherwise.
inline int gpu_head_dim_index(int head_dim, const char* who) {
  switch (head_dim) {
    case 64:
      return 0;
    case 128:
      return 1;
    case 256:
      return 2;
    default:
      fail(ErrorKind::kUnsupported,
           str_cat(who, ": head_dim ", head_dim, " is not supported (64, 128, 256)"));
  }
}

}  // namespace pagedkv
