// DeviceKvStorage and the token-write / block-copy kernels (see device_kv_storage.h).

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "core/cuda/cuda_check.h"
#include "core/error.h"
#include "kv/cuda/device_kv_storage.h"

namespace pagedkv {
namespace {

__device__ __forceinline__ float load_elem(const void* p, int kind, int64_t i) {
  switch (kind) {
    case int(DType::kF16):
      return __half2float(static_cast<const __half*>(p)[i]);
    case int(DType::kBF16):
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ void store_elem(void* p, int kind, int64_t i, float x) {
  switch (kind) {
    case int(DType::kF16):
      static_cast<__half*>(p)[i] = __float2half_rn(x);
      break;
    case int(DType::kBF16):
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(x);
      break;
    case int(DType::kFP8E4M3):
      static_cast<__nv_fp8_storage_t*>(p)[i] = __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
      break;
    default:
      static_cast<float*>(p)[i] = x;
  }
}

// One CTA per token; threads over the token's Hkv * D elements of K and V.
__global__ void write_tokens_kernel(void* k_pool, void* v_pool, int pool_kind, int64_t sb,
                                    int64_t st, int64_t sh, int block_size, int hkv, int d,
                                    const void* k_new, const void* v_new, int src_kind,
                                    const int64_t* slots, float inv_ks, float inv_vs) {
  const int t = blockIdx.x;
  const int64_t slot = slots[t];
  if (slot < 0) return;
  const int64_t block = slot / block_size;
  const int64_t off = slot % block_size;
  const int n = hkv * d;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const int h = i / d, e = i % d;
    const int64_t dst = block * sb + off * st + h * sh + e;
    store_elem(k_pool, pool_kind, dst, load_elem(k_new, src_kind, int64_t(t) * n + i) * inv_ks);
    store_elem(v_pool, pool_kind, dst, load_elem(v_new, src_kind, int64_t(t) * n + i) * inv_vs);
  }
}

// One CTA per (pair, K or V); 16-byte copies of a whole block.
__global__ void copy_blocks_kernel(uint8_t* k_pool, uint8_t* v_pool, int64_t block_bytes,
                                   const int32_t* pairs) {
  const int32_t src = pairs[2 * blockIdx.x], dst = pairs[2 * blockIdx.x + 1];
  uint8_t* base = blockIdx.y == 0 ? k_pool : v_pool;
  const uint4* s = reinterpret_cast<const uint4*>(base + src * block_bytes);
  uint4* o = reinterpret_cast<uint4*>(base + dst * block_bytes);
  for (int64_t i = threadIdx.x; i < block_bytes / 16; i += blockDim.x) o[i] = s[i];
}

}  // namespace

DeviceKvStorage::DeviceKvStorage(const KvGeometry& g) : KvStorage(g) {
  // A failed allocation throws Error(OutOfMemory); the buffers made so far free themselves.
  const size_t bytes = size_t(g.num_blocks) * g.block_elems() * dtype_size(g.dtype);
  for (int32_t l = 0; l < g.num_layers; ++l) {
    for (auto* vec : {&k_, &v_}) {
      vec->emplace_back(bytes, "DeviceKvStorage");
      cuda_check(cudaMemset(vec->back().data(), 0, bytes), "DeviceKvStorage: cudaMemset");
    }
  }
}

DeviceKvStorage::~DeviceKvStorage() = default;

KvLayerView DeviceKvStorage::layer_view(int32_t layer) const {
  PKV_CHECK(layer >= 0 && layer < geometry().num_layers, InvalidArgument, "DeviceKvStorage: layer ",
            layer, " out of range [0, ", geometry().num_layers, ")");
  const KvGeometry& g = geometry();
  return make_nhd_view(k_[layer].data(), v_[layer].data(), g.dtype, g.num_blocks, g.block_size,
                       g.num_kv_heads, g.head_dim);
}

void DeviceKvStorage::do_write_token(int32_t layer, int32_t block, int32_t slot, const void* k,
                                     const void* v, DType src_dtype) {
  const KvGeometry& g = geometry();
  const int64_t n = g.token_elems();
  const size_t es = dtype_size(g.dtype);
  std::vector<uint8_t> kb(n * es), vb(n * es);
  for (int64_t i = 0; i < n; ++i) {
    store_from_f32(kb.data(), g.dtype, i, load_as_f32(k, src_dtype, i));
    store_from_f32(vb.data(), g.dtype, i, load_as_f32(v, src_dtype, i));
  }
  const size_t off = (size_t(block) * g.block_size + slot) * n * es;
  cuda_check(cudaMemcpy(k_[layer].as<uint8_t>() + off, kb.data(), n * es, cudaMemcpyHostToDevice),
             "cudaMemcpy K");
  cuda_check(cudaMemcpy(v_[layer].as<uint8_t>() + off, vb.data(), n * es, cudaMemcpyHostToDevice),
             "cudaMemcpy V");
}

void DeviceKvStorage::do_read_token(int32_t layer, int32_t block, int32_t slot, float* k,
                                    float* v) const {
  const KvGeometry& g = geometry();
  const int64_t n = g.token_elems();
  const size_t es = dtype_size(g.dtype);
  std::vector<uint8_t> kb(n * es), vb(n * es);
  const size_t off = (size_t(block) * g.block_size + slot) * n * es;
  cuda_check(
      cudaMemcpy(kb.data(), k_[layer].as<const uint8_t>() + off, n * es, cudaMemcpyDeviceToHost),
      "cudaMemcpy K");
  cuda_check(
      cudaMemcpy(vb.data(), v_[layer].as<const uint8_t>() + off, n * es, cudaMemcpyDeviceToHost),
      "cudaMemcpy V");
  for (int64_t i = 0; i < n; ++i) {
    k[i] = load_as_f32(kb.data(), g.dtype, i);
    v[i] = load_as_f32(vb.data(), g.dtype, i);
  }
}

void DeviceKvStorage::do_copy_block(int32_t src, int32_t dst) {
  const int32_t host[2] = {src, dst};
  const DeviceBuffer pairs = DeviceBuffer::from_host(host, sizeof(host));
  for (int32_t l = 0; l < geometry().num_layers; ++l) {
    copy_kv_blocks_cuda(layer_view(l), pairs.as<int32_t>(), 1, nullptr);
  }
  cuda_check(cudaDeviceSynchronize(), "DeviceKvStorage::copy_block");
}

std::unique_ptr<KvStorage> make_device_kv_storage(const KvGeometry& geometry) {
  return std::make_unique<DeviceKvStorage>(geometry);
}

void write_kv_tokens_cuda(const KvLayerView& pool, const void* k_new, const void* v_new,
                          DType src_dtype, const int64_t* slot_mapping, int32_t num_tokens,
                          cudaStream_t stream) {
  PKV_CHECK(src_dtype == DType::kF32 || src_dtype == DType::kF16 || src_dtype == DType::kBF16,
            Unsupported, "write_kv_tokens_cuda: source dtype ", dtype_name(src_dtype),
            " is not supported (f32, f16, bf16)");
  PKV_CHECK(num_tokens >= 0, InvalidArgument, "write_kv_tokens_cuda: num_tokens ", num_tokens);
  PKV_CHECK(pool.block_size >= 1, InvalidArgument, "write_kv_tokens_cuda: bad pool view");
  if (num_tokens == 0) return;
  const bool fp8 = pool.dtype == DType::kFP8E4M3;
  PKV_CHECK(!fp8 || (pool.k_head_scale == nullptr && pool.k_scale > 0.f && pool.v_scale > 0.f),
            Unsupported, "write_kv_tokens_cuda: fp8 pools take per-tensor scales > 0 only");
  write_tokens_kernel<<<num_tokens, 256, 0, stream>>>(
      const_cast<void*>(pool.k), const_cast<void*>(pool.v), int(pool.dtype), pool.stride_block,
      pool.stride_token, pool.stride_head, pool.block_size, pool.num_kv_heads, pool.head_dim, k_new,
      v_new, int(src_dtype), slot_mapping, fp8 ? 1.f / pool.k_scale : 1.f,
      fp8 ? 1.f / pool.v_scale : 1.f);
  cuda_check(cudaGetLastError(), "write_tokens_kernel launch");
}

void copy_kv_blocks_cuda(const KvLayerView& pool, const int32_t* pairs, int32_t num_pairs,
                         cudaStream_t stream) {
  const int64_t block_elems = int64_t(pool.block_size) * pool.num_kv_heads * pool.head_dim;
  PKV_CHECK(pool.stride_block == block_elems &&
                pool.stride_token == int64_t(pool.num_kv_heads) * pool.head_dim &&
                pool.stride_head == pool.head_dim,
            InvalidArgument, "copy_kv_blocks_cuda: needs a dense NHD pool view");
  const int64_t bytes = block_elems * int64_t(dtype_size(pool.dtype));
  PKV_CHECK(bytes % 16 == 0, InvalidArgument, "copy_kv_blocks_cuda: block of ", bytes,
            " bytes is not a multiple of 16");
  if (num_pairs == 0) return;
  copy_blocks_kernel<<<dim3(num_pairs, 2), 256, 0, stream>>>(
      static_cast<uint8_t*>(const_cast<void*>(pool.k)),
      static_cast<uint8_t*>(const_cast<void*>(pool.v)), bytes, pairs);
  cuda_check(cudaGetLastError(), "copy_blocks_kernel launch");
}

}  // namespace pagedkv
