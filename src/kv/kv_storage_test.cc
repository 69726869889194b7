#include "kv/kv_storage.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

class HostKvStorageTest : public ::testing::TestWithParam<DType> {};

TEST_P(HostKvStorageTest, WritesLandAtTheNhdOffsetRoundedToTheStorageDtype) {
  Rng rng(seed_from_env(11));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const KvGeometry g{/*layers*/ 2, /*blocks*/ 5, /*bs*/ 4,
                     /*Hkv*/ 3,    /*D*/ 8,      GetParam()};
  HostKvStorage s(g);
  std::vector<float> k(g.token_elems()), v(g.token_elems());
  rng.fill_normal(k);
  rng.fill_normal(v);
  s.write_token(1, 3, 2, k.data(), v.data());
  const KvLayerView view = s.layer_view(1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(view.k) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(view.v) % 64, 0u);
  EXPECT_EQ(view.stride_block, 4 * 3 * 8);
  EXPECT_EQ(view.stride_token, 3 * 8);
  EXPECT_EQ(view.stride_head, 8);
  for (int h = 0; h < 3; ++h) {
    for (int d = 0; d < 8; ++d) {
      const size_t at = 3 * view.stride_block + 2 * view.stride_token + h * view.stride_head + d;
      EXPECT_EQ(load_as_f32(view.k, g.dtype, at), round_through(g.dtype, k[h * 8 + d]));
      EXPECT_EQ(load_as_f32(view.v, g.dtype, at), round_through(g.dtype, v[h * 8 + d]));
    }
  }
  std::vector<float> k2(g.token_elems()), v2(g.token_elems());
  s.read_token(1, 3, 2, k2.data(), v2.data());
  for (size_t i = 0; i < k.size(); ++i) {
    EXPECT_EQ(k2[i], round_through(g.dtype, k[i]));
    EXPECT_EQ(v2[i], round_through(g.dtype, v[i]));
  }
  // Layer 0 and other slots are untouched (zero-filled at construction).
  s.read_token(0, 3, 2, k2.data(), v2.data());
  for (float x : k2) EXPECT_EQ(x, 0.0f);
  s.read_token(1, 3, 1, k2.data(), v2.data());
  for (float x : v2) EXPECT_EQ(x, 0.0f);
}

TEST_P(HostKvStorageTest, CopyBlockCopiesEveryLayerAndNothingElse) {
  Rng rng(seed_from_env(12));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const KvGeometry g{3, 4, 2, 2, 4, GetParam()};
  HostKvStorage s(g);
  std::vector<float> k(g.token_elems()), v(g.token_elems());
  std::vector<std::vector<float>> written;
  for (int layer = 0; layer < 3; ++layer)
    for (int slot = 0; slot < 2; ++slot) {
      rng.fill_normal(k);
      rng.fill_normal(v);
      s.write_token(layer, 1, slot, k.data(), v.data());
      written.push_back(k);
      written.push_back(v);
    }
  s.copy_block(1, 2);
  std::vector<float> k2(g.token_elems()), v2(g.token_elems());
  size_t i = 0;
  for (int layer = 0; layer < 3; ++layer)
    for (int slot = 0; slot < 2; ++slot) {
      s.read_token(layer, 2, slot, k2.data(), v2.data());
      for (size_t e = 0; e < k2.size(); ++e) {
        EXPECT_EQ(k2[e], round_through(g.dtype, written[i][e]));
        EXPECT_EQ(v2[e], round_through(g.dtype, written[i + 1][e]));
      }
      i += 2;
      s.read_token(layer, 3, slot, k2.data(), v2.data());  // neighbour untouched
      for (float x : k2) EXPECT_EQ(x, 0.0f);
    }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, HostKvStorageTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(HostKvStorage, WriteFromAnotherDtypeConverts) {
  const KvGeometry g{1, 2, 2, 1, 4, DType::kF32};
  HostKvStorage s(g);
  const uint16_t k[4] = {f32_to_bf16(1.5f), f32_to_bf16(-2.0f), f32_to_bf16(0.25f),
                         f32_to_bf16(3.0f)};
  const uint16_t v[4] = {f32_to_bf16(-1.0f), f32_to_bf16(4.0f), f32_to_bf16(0.5f),
                         f32_to_bf16(7.0f)};
  s.write_token(0, 1, 1, k, v, DType::kBF16);
  float k2[4], v2[4];
  s.read_token(0, 1, 1, k2, v2);
  EXPECT_EQ(k2[0], 1.5f);
  EXPECT_EQ(k2[3], 3.0f);
  EXPECT_EQ(v2[1], 4.0f);
  EXPECT_EQ(v2[3], 7.0f);
}

TEST(HostKvStorage, Fp8StoresRoundedSaturatedValues) {
  HostKvStorage s(KvGeometry{1, 2, 4, 1, 4, DType::kFP8E4M3});
  const float k[4] = {1.5f, -0.3f, 1000.f, 17.f}, v[4] = {2.f, 0.25f, -500.f, 0.f};
  float k2[4], v2[4];
  s.write_token(0, 1, 3, k, v);
  s.read_token(0, 1, 3, k2, v2);
  const float k_want[4] = {1.5f, -0.3125f, 448.f, 16.f}, v_want[4] = {2.f, 0.25f, -448.f, 0.f};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(k2[i], k_want[i]) << i;
    EXPECT_EQ(v2[i], v_want[i]) << i;
  }
  EXPECT_EQ(s.layer_view(0).k_scale, 1.f);
}

TEST(HostKvStorage, BadGeometryAndLocationsAreClearErrors) {
  EXPECT_THROW(HostKvStorage(KvGeometry{1, 4, 3, 1, 4, DType::kF32}), Error);    // bs not 2^k
  EXPECT_THROW(HostKvStorage(KvGeometry{1, 4, 512, 1, 4, DType::kF32}), Error);  // bs > 256
  EXPECT_THROW(HostKvStorage(KvGeometry{0, 4, 4, 1, 4, DType::kF32}), Error);
  EXPECT_THROW(HostKvStorage(KvGeometry{1, 0, 4, 1, 4, DType::kF32}), Error);
  EXPECT_THROW(HostKvStorage(KvGeometry{1, 4, 4, 0, 4, DType::kF32}), Error);
  EXPECT_THROW(HostKvStorage(KvGeometry{1, 4, 4, 1, -4, DType::kF32}), Error);
  EXPECT_THROW(HostKvStorage(KvGeometry{1, 4, 4, 1, 4, static_cast<DType>(9)}), Error);
  for (int bs : {1, 2, 16, 256})
    EXPECT_NO_THROW(HostKvStorage(KvGeometry{1, 2, bs, 1, 2, DType::kF16}));
  HostKvStorage s(KvGeometry{2, 4, 4, 1, 2, DType::kF32});
  const float x[2] = {1, 2};
  float y[2];
  try {
    s.write_token(0, 4, 0, x, x);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("block 4 outside [0, 4)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.write_token(2, 0, 0, x, x), Error);
  EXPECT_THROW(s.write_token(0, 0, 4, x, x), Error);
  EXPECT_THROW(s.write_token(0, 0, -1, x, x), Error);
  EXPECT_THROW(s.read_token(0, -1, 0, y, y), Error);
  EXPECT_THROW(s.copy_block(0, 9), Error);
  EXPECT_THROW(s.layer_view(2), Error);
}

}  // namespace
}  // namespace pagedkv
