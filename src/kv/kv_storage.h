#pragma once
// KvStorage: the K and V tensors of every layer of one layer group, indexed by physical block id.
// It knows nothing of sequences or ref counts (the allocator and block tables do); it only stores
// values at (layer, block, slot) and hands out plain views for kernels.
//
// The interface is device-agnostic: HostKvStorage keeps 64-byte-aligned host memory, a device
// implementation (cudaMalloc) fits behind the same calls. Token data passed to write_token is
// always host memory [num_kv_heads, head_dim] in any dtype; the storage converts (rounding to
// nearest even) into its own dtype.

#include <cstdint>
#include <memory>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/dtype.h"
#include "kv/kv_view.h"

namespace pagedkv {

struct KvGeometry {
  int32_t num_layers = 1;
  int32_t num_blocks = 1;
  int32_t block_size = 16;
  int32_t num_kv_heads = 1;
  int32_t head_dim = 64;
  DType dtype = DType::kBF16;

  // Positive sizes, power-of-two block size 1..256, f32 / f16 / bf16 / fp8_e4m3 (stored values
  // with per-tensor scale 1: the views' k_scale and v_scale).
  void validate() const;
  int64_t token_elems() const { return int64_t(num_kv_heads) * head_dim; }
  int64_t block_elems() const { return token_elems() * block_size; }
  // Bytes of K + V of one block across all layers (what one block id costs).
  int64_t bytes_per_block() const {
    return 2 * block_elems() * int64_t(dtype_size(dtype)) * num_layers;
  }
};

class KvStorage {
 public:
  explicit KvStorage(const KvGeometry& geometry);
  virtual ~KvStorage() = default;
  KvStorage(const KvStorage&) = delete;
  KvStorage& operator=(const KvStorage&) = delete;

  const KvGeometry& geometry() const { return geometry_; }
  virtual bool on_device() const = 0;

  // Store one token: k and v are host arrays [num_kv_heads, head_dim] of dtype src_dtype.
  void write_token(int32_t layer, int32_t block, int32_t slot, const void* k, const void* v,
                   DType src_dtype);
  void write_token(int32_t layer, int32_t block, int32_t slot, const float* k, const float* v) {
    write_token(layer, block, slot, k, v, DType::kF32);
  }
  // Read one token back as f32 into host arrays [num_kv_heads, head_dim] (tests, debugging).
  void read_token(int32_t layer, int32_t block, int32_t slot, float* k, float* v) const;
  // Copy block src to block dst in every layer (copy-on-write). Cost: one block of K and V per
  // layer.
  void copy_block(int32_t src, int32_t dst);

  // The view kernels read: pointers (device pointers for a device storage) and strides.
  virtual KvLayerView layer_view(int32_t layer) const = 0;

 protected:
  // Implementations do the data movement; arguments are already validated.
  virtual void do_write_token(int32_t layer, int32_t block, int32_t slot, const void* k,
                              const void* v, DType src_dtype) = 0;
  virtual void do_read_token(int32_t layer, int32_t block, int32_t slot, float* k,
                             float* v) const = 0;
  virtual void do_copy_block(int32_t src, int32_t dst) = 0;

 private:
  void check_location(int32_t layer, int32_t block, int32_t slot, const char* what) const;
  KvGeometry geometry_;
};

// Host memory: per layer one K and one V buffer, each [num_blocks, block_size, Hkv, D] (NHD),
// 64-byte aligned, zero-filled at construction.
class HostKvStorage final : public KvStorage {
 public:
  explicit HostKvStorage(const KvGeometry& geometry);
  bool on_device() const override { return false; }
  KvLayerView layer_view(int32_t layer) const override;

 protected:
  void do_write_token(int32_t layer, int32_t block, int32_t slot, const void* k, const void* v,
                      DType src_dtype) override;
  void do_read_token(int32_t layer, int32_t block, int32_t slot, float* k, float* v) const override;
  void do_copy_block(int32_t src, int32_t dst) override;

 private:
  std::vector<AlignedBuffer> k_;  // [num_layers] of [num_blocks, block_size, Hkv, D]
  std::vector<AlignedBuffer> v_;  // [num_layers] of [num_blocks, block_size, Hkv, D]
};

std::unique_ptr<KvStorage> make_host_kv_storage(const KvGeometry& geometry);

}  // namespace pagedkv
