#include "kv/kv_storage.h"

#include <cstring>

#include "core/error.h"
#include "core/host_memory.h"

namespace pagedkv {

void KvGeometry::validate() const {
  PKV_CHECK(num_layers >= 1, InvalidArgument, "KV storage needs >= 1 layer, got ", num_layers);
  PKV_CHECK(num_blocks >= 1, InvalidArgument, "KV storage needs >= 1 block, got ", num_blocks);
  PKV_CHECK(block_size >= 1 && block_size <= 256 && (block_size & (block_size - 1)) == 0,
            InvalidArgument, "block size must be a power of two in [1, 256], got ", block_size);
  PKV_CHECK(num_kv_heads >= 1, InvalidArgument, "num_kv_heads must be >= 1, got ", num_kv_heads);
  PKV_CHECK(head_dim >= 1, InvalidArgument, "head_dim must be >= 1, got ", head_dim);
  PKV_CHECK(dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16 ||
                dtype == DType::kFP8E4M3,
            Unsupported, "KV storage dtype must be f32, f16, bf16 or fp8_e4m3, got ",
            dtype_name(dtype));
}

KvStorage::KvStorage(const KvGeometry& geometry) : geometry_(geometry) { geometry_.validate(); }

void KvStorage::check_location(int32_t layer, int32_t block, int32_t slot, const char* what) const {
  PKV_CHECK(layer >= 0 && layer < geometry_.num_layers, InvalidArgument, what, ": layer ", layer,
            " outside [0, ", geometry_.num_layers, ")");
  PKV_CHECK(block >= 0 && block < geometry_.num_blocks, InvalidArgument, what, ": block ", block,
            " outside [0, ", geometry_.num_blocks, ")");
  PKV_CHECK(slot >= 0 && slot < geometry_.block_size, InvalidArgument, what, ": slot ", slot,
            " outside [0, ", geometry_.block_size, ")");
}

void KvStorage::write_token(int32_t layer, int32_t block, int32_t slot, const void* k,
                            const void* v, DType src_dtype) {
  check_location(layer, block, slot, "write_token");
  PKV_CHECK(k != nullptr && v != nullptr, InvalidArgument, "write_token: null K or V");
  do_write_token(layer, block, slot, k, v, src_dtype);
}

void KvStorage::read_token(int32_t layer, int32_t block, int32_t slot, float* k, float* v) const {
  check_location(layer, block, slot, "read_token");
  PKV_CHECK(k != nullptr && v != nullptr, InvalidArgument, "read_token: null K or V");
  do_read_token(layer, block, slot, k, v);
}

void KvStorage::copy_block(int32_t src, int32_t dst) {
  check_location(0, src, 0, "copy_block (source)");
  check_location(0, dst, 0, "copy_block (destination)");
  if (src != dst) do_copy_block(src, dst);
}

HostKvStorage::HostKvStorage(const KvGeometry& geometry) : KvStorage(geometry) {
  const KvGeometry& g = this->geometry();
  const size_t bytes = size_t(g.num_blocks) * g.block_elems() * dtype_size(g.dtype);
  // All layers' K and V at once, checked before the first is allocated (geometry sizes are
  // int32, so the product fits int64).
  check_host_allocation(int64_t(bytes) * 2 * g.num_layers,
                        str_cat("the KV pool (", g.num_blocks, " blocks of ", g.block_size,
                                " tokens x ", g.num_layers, " layers, ", dtype_name(g.dtype), ")"));
  for (int32_t l = 0; l < g.num_layers; ++l) {
    k_.emplace_back(bytes);
    v_.emplace_back(bytes);
    std::memset(k_.back().data(), 0, bytes);
    std::memset(v_.back().data(), 0, bytes);
  }
}

KvLayerView HostKvStorage::layer_view(int32_t layer) const {
  const KvGeometry& g = geometry();
  PKV_CHECK(layer >= 0 && layer < g.num_layers, InvalidArgument, "layer_view: layer ", layer,
            " outside [0, ", g.num_layers, ")");
  return make_nhd_view(k_[layer].data(), v_[layer].data(), g.dtype, g.num_blocks, g.block_size,
                       g.num_kv_heads, g.head_dim);
}

void HostKvStorage::do_write_token(int32_t layer, int32_t block, int32_t slot, const void* k,
                                   const void* v, DType src_dtype) {
  const KvGeometry& g = geometry();
  const int64_t n = g.token_elems();
  const size_t base = size_t(block) * g.block_elems() + size_t(slot) * n;
  if (src_dtype == g.dtype) {  // same dtype: a plain copy
    const size_t es = dtype_size(g.dtype);
    std::memcpy(k_[layer].as<char>() + base * es, k, n * es);
    std::memcpy(v_[layer].as<char>() + base * es, v, n * es);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    store_from_f32(k_[layer].data(), g.dtype, base + i, load_as_f32(k, src_dtype, i));
    store_from_f32(v_[layer].data(), g.dtype, base + i, load_as_f32(v, src_dtype, i));
  }
}

void HostKvStorage::do_read_token(int32_t layer, int32_t block, int32_t slot, float* k,
                                  float* v) const {
  const KvGeometry& g = geometry();
  const int64_t n = g.token_elems();
  const size_t base = size_t(block) * g.block_elems() + size_t(slot) * n;
  for (int64_t i = 0; i < n; ++i) {
    k[i] = load_as_f32(k_[layer].data(), g.dtype, base + i);
    v[i] = load_as_f32(v_[layer].data(), g.dtype, base + i);
  }
}

void HostKvStorage::do_copy_block(int32_t src, int32_t dst) {
  const KvGeometry& g = geometry();
  const size_t bytes = size_t(g.block_elems()) * dtype_size(g.dtype);
  for (int32_t l = 0; l < g.num_layers; ++l) {
    std::memcpy(k_[l].as<char>() + dst * bytes, k_[l].as<char>() + src * bytes, bytes);
    std::memcpy(v_[l].as<char>() + dst * bytes, v_[l].as<char>() + src * bytes, bytes);
  }
}

std::unique_ptr<KvStorage> make_host_kv_storage(const KvGeometry& geometry) {
  return std::make_unique<HostKvStorage>(geometry);
}

}  // namespace pagedkv
