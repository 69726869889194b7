#pragma once
// Plain views of the KV pool handed to attention kernels: pointers, geometry, strides, and the
// CSR page list of ../shared/DESIGN.md §3. No ownership, no allocator: usable on host and device
// (pointers may be device pointers), copied by value into kernels.

#include <cstdint>

#include "core/dtype.h"

namespace pagedkv {

// The physical blocks that hold each sequence's *visible* tokens, oldest first.
struct PageListView {
  const int32_t* indptr =
      nullptr;  // [B + 1]: blocks of seq b are indices[indptr[b] .. indptr[b+1])
  const int32_t* indices = nullptr;       // [indptr[B]]: physical block ids
  const int32_t* first_offset = nullptr;  // [B]: slot of the first visible token in its first block
  const int32_t* visible_len = nullptr;   // [B]: number of visible tokens, >= 1
  int32_t batch_size = 0;                 // B
};

// One layer's K and V pools, each [num_blocks, block_size, num_kv_heads, head_dim] (NHD).
// Element (b, s, h, d) lives at b * stride_block + s * stride_token + h * stride_head + d.
struct KvLayerView {
  const void* k = nullptr;
  const void* v = nullptr;
  DType dtype = DType::kBF16;
  int32_t num_blocks = 0;
  int32_t block_size = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int64_t stride_block = 0;  // elements
  int64_t stride_token = 0;  // elements
  int64_t stride_head = 0;   // elements
  // fp8 KV only: stored value * scale = real value. Per-head scales [num_kv_heads] win when set.
  float k_scale = 1.0f;
  float v_scale = 1.0f;
  const float* k_head_scale = nullptr;
  const float* v_head_scale = nullptr;
};

// Strides of a dense NHD pool with the given geometry.
inline KvLayerView make_nhd_view(const void* k, const void* v, DType dtype, int32_t num_blocks,
                                 int32_t block_size, int32_t num_kv_heads, int32_t head_dim) {
  KvLayerView view;
  view.k = k;
  view.v = v;
  view.dtype = dtype;
  view.num_blocks = num_blocks;
  view.block_size = block_size;
  view.num_kv_heads = num_kv_heads;
  view.head_dim = head_dim;
  view.stride_head = head_dim;
  view.stride_token = int64_t(num_kv_heads) * head_dim;
  view.stride_block = int64_t(block_size) * view.stride_token;
  return view;
}

}  // namespace pagedkv
