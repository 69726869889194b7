// The GPU KV budget (engine/kv_budget.h) on a runner that reports device memory without a device:
// the arithmetic, the flag's range, and a budget too small to hold a pool.

#include "engine/kv_budget.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace pagedkv {
namespace {

// Two layer groups (4 full + 2 sliding layers), 8 kv heads of 128: a block of 16 bf16 tokens
// costs 2 (K, V) x 16 x 8 x 128 x 2 bytes x 6 layers.
class FakeDeviceRunner final : public ModelRunner {
 public:
  std::optional<DeviceMemory> memory;
  int64_t vocab_size() const override { return 100; }
  int64_t max_model_len() const override { return 4096; }
  DType default_kv_dtype() const override { return DType::kBF16; }
  KvCacheConfig kv_cache_config(int32_t num_blocks, int32_t block_size,
                                DType dtype) const override {
    std::vector<LayerGroupSpec> specs{{AttentionRule{}, {0, 1, 2, 3}}, {AttentionRule{}, {4, 5}}};
    return KvCacheConfig::uniform(specs, num_blocks, block_size, 8, 128, dtype);
  }
  std::optional<DeviceMemory> device_memory(int64_t) const override { return memory; }
  std::vector<float> prefill(KvCache&, SeqId, int64_t, std::span<const int32_t>, bool) override {
    return {};
  }
  std::vector<float> decode(KvCache&, std::span<const SeqId>, std::span<const int32_t>) override {
    return {};
  }
};

constexpr int64_t kGiB = int64_t(1) << 30;

TEST(KvBudget, BytesPerBlockSumTheGroups) {
  FakeDeviceRunner r;
  EXPECT_EQ(kv_bytes_per_block(r, 16, DType::kBF16), 2 * 16 * 8 * 128 * 2 * 6);
  EXPECT_EQ(kv_bytes_per_block(r, 16, DType::kFP8E4M3), 2 * 16 * 8 * 128 * 1 * 6);
}

TEST(KvBudget, TakesTheFractionLeftAfterWeightsAndActivations) {
  FakeDeviceRunner r;
  r.memory = ModelRunner::DeviceMemory{80 * kGiB, 64 * kGiB, 2 * kGiB};  // 16 GiB weights
  const auto b = device_kv_budget(r, 0.9, 16, DType::kBF16, 512);
  ASSERT_TRUE(b.has_value());
  const int64_t per_block = kv_bytes_per_block(r, 16, DType::kBF16);
  const int64_t room = int64_t(0.9 * double(80 * kGiB)) - 16 * kGiB - 2 * kGiB;
  EXPECT_EQ(b->num_blocks, room / per_block);
  EXPECT_EQ(b->bytes, int64_t(b->num_blocks) * per_block);
  EXPECT_LE(b->bytes, room);
  EXPECT_NE(b->summary.find(std::to_string(b->num_blocks) + " blocks"), std::string::npos)
      << b->summary;
  EXPECT_NE(b->summary.find("80.00 GiB"), std::string::npos) << b->summary;
  // A smaller fraction, a smaller pool; fp8 doubles the blocks.
  EXPECT_LT(device_kv_budget(r, 0.5, 16, DType::kBF16, 512)->num_blocks, b->num_blocks);
  EXPECT_EQ(device_kv_budget(r, 0.9, 16, DType::kFP8E4M3, 512)->num_blocks, room / (per_block / 2));
}

TEST(KvBudget, HostRunnersHaveNone) {
  FakeDeviceRunner r;
  EXPECT_FALSE(device_kv_budget(r, 0.9, 16, DType::kBF16, 512).has_value());
}

TEST(KvBudget, ClearErrors) {
  FakeDeviceRunner r;
  r.memory = ModelRunner::DeviceMemory{80 * kGiB, 64 * kGiB, 2 * kGiB};
  for (const double bad : {0.0, -0.5, 1.5}) {
    try {
      device_kv_budget(r, bad, 16, DType::kBF16, 512);
      FAIL() << "fraction " << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("--gpu-memory-fraction"), std::string::npos);
    }
  }
  try {  // 0.2 of 80 GiB is less than the 16 GiB of weights already there
    device_kv_budget(r, 0.2, 16, DType::kBF16, 512);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kOutOfMemory);
    EXPECT_NE(std::string(e.what()).find("16.00 GiB in use"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pagedkv
