#pragma once
// Host-side checks of a DecodeParams before any kernel touches memory (../shared/DESIGN.md §3).
// Every implementation (reference, gather, fused CPU, dense, CUDA) calls this first, so bad input
// raises a clear pagedkv::Error and no output byte is written.
//
// The page-list arrays (indptr, indices, first_offset, visible_len) and sinks must be readable on
// the host here; the CUDA path validates host copies of them.

#include <cstdint>

#include "attention/decode_params.h"

namespace pagedkv {

// Head dims every decode implementation supports (DISPATCH turns them into compile-time constants).
bool is_supported_decode_head_dim(int32_t head_dim);

// Throws Error (InvalidArgument or Unsupported) naming the first problem found:
// null pointers, Hq not a multiple of Hkv, unsupported head dim / dtype, bad geometry or strides,
// scale <= 0, malformed indptr, visible_len < 1, first_offset outside [0, block_size),
// visible tokens exceeding the blocks listed, block id outside [0, num_blocks).
// Does not look at q/k/v/out contents. Cost: O(B + number of listed blocks).
void validate_decode_params(const DecodeParams& p);

// Number of blocks that hold the visible tokens of a sequence: ceil((first_offset + len) / bs).
inline int64_t blocks_needed(int32_t first_offset, int32_t visible_len, int32_t block_size) {
  return (int64_t(first_offset) + visible_len + block_size - 1) / block_size;
}

}  // namespace pagedkv
