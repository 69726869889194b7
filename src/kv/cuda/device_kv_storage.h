#pragma once
// DeviceKvStorage: the KvStorage interface over GPU memory (cudaMalloc), plus the two kernels a
// GPU engine needs to keep the pool up to date without host round trips:
//   write_kv_tokens_cuda  — scatter new tokens' K/V into the pool by slot mapping
//                           (slot = block * block_size + offset; -1 = skip), converting dtype;
//   copy_kv_blocks_cuda   — copy whole blocks (src -> dst pairs), for copy-on-write.
// Layout as everywhere: per layer K and V, each [num_blocks, block_size, Hkv, D] (NHD).

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/cuda/device_buffer.h"
#include "kv/kv_storage.h"

namespace pagedkv {

class DeviceKvStorage final : public KvStorage {
 public:
  // Allocates and zero-fills every layer's K and V on the current device.
  explicit DeviceKvStorage(const KvGeometry& geometry);
  ~DeviceKvStorage() override;
  bool on_device() const override { return true; }
  KvLayerView layer_view(int32_t layer) const override;  // device pointers

 protected:
  // Host-driven paths (tests, setup): one small cudaMemcpy per call, synchronous.
  void do_write_token(int32_t layer, int32_t block, int32_t slot, const void* k, const void* v,
                      DType src_dtype) override;
  void do_read_token(int32_t layer, int32_t block, int32_t slot, float* k, float* v) const override;
  void do_copy_block(int32_t src, int32_t dst) override;  // copy_kv_blocks_cuda on every layer

 private:
  std::vector<DeviceBuffer> k_;  // [num_layers] device [num_blocks, block_size, Hkv, D]
  std::vector<DeviceBuffer> v_;  // [num_layers] device [num_blocks, block_size, Hkv, D]
};

std::unique_ptr<KvStorage> make_device_kv_storage(const KvGeometry& geometry);

// Writes T tokens into one layer's pool: k_new / v_new are device arrays [T, Hkv, D] of
// src_dtype (f32, f16, bf16); slot_mapping [T] (device) gives block * block_size + offset for
// each token, or -1 to skip it. Values are rounded to nearest even into the pool dtype (fp8: value
// / k_scale or v_scale, saturating). Out-of-range slots are the caller's contract (not checked on
// the device). Async on `stream`.
void write_kv_tokens_cuda(const KvLayerView& pool, const void* k_new, const void* v_new,
                          DType src_dtype, const int64_t* slot_mapping, int32_t num_tokens,
                          cudaStream_t stream);

// Copies block pairs[i][0] -> pairs[i][1] (device array [n, 2] of int32) in K and V of one layer.
// Requires a dense NHD view (stride_block == block_size * Hkv * D). Async on `stream`.
void copy_kv_blocks_cuda(const KvLayerView& pool, const int32_t* pairs, int32_t num_pairs,
                         cudaStream_t stream);

}  // namespace pagedkv
