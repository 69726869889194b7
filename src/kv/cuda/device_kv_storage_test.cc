// DeviceKvStorage against HostKvStorage (same writes, same reads), the token-write kernel
// (slot mapping, dtype conversion, skipped slots) and the block-copy kernel. Skipped visibly
// without a GPU.

#include "kv/cuda/device_kv_storage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_buffer.h"
#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

#define REQUIRE_GPU() \
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device present: GPU test skipped"

std::vector<uint8_t> pool_bytes(const KvLayerView& view, bool key) {
  const size_t n = size_t(view.num_blocks) * view.block_size * view.num_kv_heads * view.head_dim *
                   dtype_size(view.dtype);
  std::vector<uint8_t> out(n);
  EXPECT_EQ(cudaMemcpy(out.data(), key ? view.k : view.v, n, cudaMemcpyDeviceToHost), cudaSuccess);
  return out;
}

TEST(DeviceKvStorage, MatchesHostStorage) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(11));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (DType dt : {DType::kBF16, DType::kF16, DType::kF32}) {
    KvGeometry g;
    g.num_layers = 2;
    g.num_blocks = 6;
    g.block_size = 4;
    g.num_kv_heads = 2;
    g.head_dim = 64;
    g.dtype = dt;
    DeviceKvStorage dev(g);
    HostKvStorage host(g);
    std::vector<float> k(g.token_elems()), v(g.token_elems());
    for (int i = 0; i < 20; ++i) {
      const int layer = int(rng.uniform_int(0, 1)), block = int(rng.uniform_int(0, 5)),
                slot = int(rng.uniform_int(0, 3));
      rng.fill_normal(k);
      rng.fill_normal(v);
      dev.write_token(layer, block, slot, k.data(), v.data());
      host.write_token(layer, block, slot, k.data(), v.data());
    }
    dev.copy_block(2, 5);
    host.copy_block(2, 5);
    for (int layer = 0; layer < 2; ++layer) {
      const KvLayerView hv = host.layer_view(layer), dv = dev.layer_view(layer);
      const size_t n = size_t(g.num_blocks) * g.block_elems() * dtype_size(dt);
      EXPECT_EQ(pool_bytes(dv, true), std::vector<uint8_t>(static_cast<const uint8_t*>(hv.k),
                                                           static_cast<const uint8_t*>(hv.k) + n));
      EXPECT_EQ(pool_bytes(dv, false), std::vector<uint8_t>(static_cast<const uint8_t*>(hv.v),
                                                            static_cast<const uint8_t*>(hv.v) + n));
    }
    std::vector<float> k2(g.token_elems()), v2(g.token_elems()), k3(k2), v3(v2);
    dev.read_token(1, 5, 3, k2.data(), v2.data());
    host.read_token(1, 5, 3, k3.data(), v3.data());
    EXPECT_EQ(k2, k3);
    EXPECT_EQ(v2, v3);
    EXPECT_THROW(dev.write_token(2, 0, 0, k.data(), v.data()), Error);  // bad layer
  }
}

TEST(DeviceKvKernels, WriteTokensBySlotMappingAndCopyBlocks) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(12));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (DType pool_dt : {DType::kBF16, DType::kF16, DType::kFP8E4M3}) {
    const int nb = 7, bs = 16, hkv = 2, d = 128, T = 40;
    const size_t elems = size_t(nb) * bs * hkv * d, es = dtype_size(pool_dt);
    std::vector<uint8_t> hk(elems * es), hv(elems * es);
    for (size_t i = 0; i < elems; ++i) {  // random starting contents
      store_from_f32(hk.data(), pool_dt, i, rng.normal());
      store_from_f32(hv.data(), pool_dt, i, rng.normal());
    }
    const DeviceBuffer kp = DeviceBuffer::from_vector(hk), vp = DeviceBuffer::from_vector(hv);
    KvLayerView view = make_nhd_view(kp.data(), vp.data(), pool_dt, nb, bs, hkv, d);
    if (pool_dt == DType::kFP8E4M3) {
      view.k_scale = 0.5f;
      view.v_scale = 0.25f;
    }
    // Distinct random slots, some skipped (-1); new tokens in f32.
    std::vector<int64_t> all(nb * bs);
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng.engine());
    std::vector<int64_t> slots(all.begin(), all.begin() + T);
    for (int t = 0; t < T; t += 7) slots[t] = -1;
    std::vector<float> kn(size_t(T) * hkv * d), vn(kn.size());
    rng.fill_normal(kn);
    rng.fill_normal(vn);
    const DeviceBuffer ds = DeviceBuffer::from_vector(slots);
    const DeviceBuffer dk = DeviceBuffer::from_vector(kn), dv = DeviceBuffer::from_vector(vn);
    write_kv_tokens_cuda(view, dk.data(), dv.data(), DType::kF32, ds.as<int64_t>(), T, nullptr);
    std::vector<int32_t> pairs = {3, 0, 5, 6};
    const DeviceBuffer dp = DeviceBuffer::from_vector(pairs);
    copy_kv_blocks_cuda(view, dp.as<int32_t>(), 2, nullptr);
    cuda_check(cudaDeviceSynchronize(), "sync");
    // Expected contents on the host.
    for (int t = 0; t < T; ++t) {
      if (slots[t] < 0) continue;
      for (int i = 0; i < hkv * d; ++i) {
        store_from_f32(hk.data(), pool_dt, size_t(slots[t]) * hkv * d + i,
                       kn[size_t(t) * hkv * d + i] / view.k_scale);
        store_from_f32(hv.data(), pool_dt, size_t(slots[t]) * hkv * d + i,
                       vn[size_t(t) * hkv * d + i] / view.v_scale);
      }
    }
    const size_t block_bytes = size_t(bs) * hkv * d * es;
    for (size_t p = 0; p < pairs.size(); p += 2) {
      std::copy_n(hk.begin() + pairs[p] * block_bytes, block_bytes,
                  hk.begin() + pairs[p + 1] * block_bytes);
      std::copy_n(hv.begin() + pairs[p] * block_bytes, block_bytes,
                  hv.begin() + pairs[p + 1] * block_bytes);
    }
    EXPECT_EQ(pool_bytes(view, true), hk) << dtype_name(pool_dt);
    EXPECT_EQ(pool_bytes(view, false), hv) << dtype_name(pool_dt);
  }
}

TEST(DeviceKvKernels, BadArgumentsAreClearErrors) {
  KvLayerView view = make_nhd_view(nullptr, nullptr, DType::kBF16, 4, 16, 2, 64);
  EXPECT_THROW(write_kv_tokens_cuda(view, nullptr, nullptr, DType::kFP8E4M3, nullptr, 1, nullptr),
               Error);
  view.stride_head = 128;  // not dense
  EXPECT_THROW(copy_kv_blocks_cuda(view, nullptr, 1, nullptr), Error);
}

}  // namespace
}  // namespace pagedkv
