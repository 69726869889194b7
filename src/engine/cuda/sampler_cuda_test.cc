// The GPU sampler against its host twin (engine/counter_sampler.h) on seeded random logits: the
// same token for (almost) every row — exp/log round differently on the two sides, so a row may
// differ where two Gumbel scores or a top-p boundary are that close, and then the GPU's token must
// still be one the host keeps — greedy bit for bit, batch and row independence, and NaN rows.
// Skips without a GPU.

#include "engine/cuda/sampler_cuda.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_buffer.h"
#include "core/random.h"
#include "engine/counter_sampler.h"

namespace pagedkv {
namespace {

#define REQUIRE_GPU() \
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: GPU test skipped"

std::vector<int32_t> gpu_sample(const std::vector<float>& logits, int64_t V,
                                const std::vector<CounterDraw>& draws) {
  DeviceBuffer d(logits.size() * 4, "test logits");
  cuda_check(cudaMemcpy(d.data(), logits.data(), logits.size() * 4, cudaMemcpyHostToDevice), "up");
  cuda::SamplerCuda s;
  return s.sample(d.as<float>(), V, draws, nullptr);
}

std::vector<CounterDraw> random_draws(Rng& rng, size_t n) {
  std::vector<CounterDraw> d(n);
  for (size_t i = 0; i < n; ++i) {
    d[i].temperature = i % 5 == 0 ? 0.f : rng.uniform(0.3f, 1.5f);
    d[i].top_k = i % 3 == 0 ? int32_t(rng.uniform_int(1, 200)) : 0;
    d[i].top_p = i % 4 == 1 ? rng.uniform(0.5f, 0.99f) : 1.f;
    d[i].min_p = i % 7 == 2 ? rng.uniform(0.01f, 0.3f) : 0.f;
    d[i].seed = uint64_t(rng.uniform_int(0, 1 << 30));
    d[i].counter = uint64_t(rng.uniform_int(0, 5000));
  }
  return d;
}

TEST(SamplerCuda, MatchesTheHostTwin) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(11));
  SCOPED_TRACE(testing::Message() << "seed=" << rng.seed());
  for (const int64_t V : {int64_t(1000), int64_t(151936)}) {
    const size_t B = 96;
    std::vector<float> logits(B * size_t(V));
    rng.fill_normal(logits, 3.f);
    const std::vector<CounterDraw> draws = random_draws(rng, B);
    const std::vector<int32_t> got = gpu_sample(logits, V, draws);
    int same = 0;
    for (size_t b = 0; b < B; ++b) {
      const std::span<const float> row(logits.data() + b * size_t(V), size_t(V));
      const int32_t want = sample_counter(row, draws[b]);
      same += got[b] == want;
      if (draws[b].temperature == 0.f) {
        EXPECT_EQ(got[b], want) << "greedy row " << b;
      }
      ASSERT_GE(got[b], 0);
      ASSERT_LT(got[b], V);
      // Whatever the rounding, the token must pass the knobs (a slack of 1e-4 at thresholds).
      const float m = *std::max_element(row.begin(), row.end());
      if (draws[b].min_p > 0.f) {
        EXPECT_GE(row[size_t(got[b])], m + draws[b].temperature * std::log(draws[b].min_p) - 1e-4f);
      }
      if (draws[b].top_k > 0) {
        const auto above = std::count_if(row.begin(), row.end(),
                                         [&](float x) { return x > row[size_t(got[b])] + 1e-4f; });
        EXPECT_LT(above, draws[b].top_k) << "row " << b;
      }
    }
    std::printf("[ gpu sampler ] V=%lld: %d of %zu rows equal to the host twin\n", (long long)V,
                same, B);
    EXPECT_GE(same, int(B) - 2);
  }
}

TEST(SamplerCuda, RowAndBatchIndependent) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(12));
  const int64_t V = 32000;
  const size_t B = 40;
  std::vector<float> logits(B * size_t(V));
  rng.fill_normal(logits, 2.f);
  const std::vector<CounterDraw> draws = random_draws(rng, B);
  const std::vector<int32_t> a = gpu_sample(logits, V, draws);
  EXPECT_EQ(a, gpu_sample(logits, V, draws)) << "not the same run after run";
  // Reversed rows, and each row alone.
  std::vector<float> rl(logits.size());
  std::vector<CounterDraw> rd(draws.rbegin(), draws.rend());
  for (size_t b = 0; b < B; ++b)
    std::copy_n(logits.begin() + int64_t(b) * V, V, rl.begin() + int64_t(B - 1 - b) * V);
  const std::vector<int32_t> r = gpu_sample(rl, V, rd);
  for (size_t b = 0; b < B; ++b) {
    EXPECT_EQ(a[b], r[B - 1 - b]) << "row " << b;
    const std::vector<float> one(logits.begin() + int64_t(b) * V,
                                 logits.begin() + int64_t(b + 1) * V);
    EXPECT_EQ(a[b], gpu_sample(one, V, {draws[b]})[0]) << "row " << b << " alone";
  }
}

TEST(SamplerCuda, NonFiniteRowsGiveMinusOneAndSpareTheOthers) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(13));
  const int64_t V = 5000;
  std::vector<float> logits(3 * size_t(V));
  rng.fill_normal(logits, 1.f);
  logits[size_t(V) + 77] = NAN;
  const std::vector<CounterDraw> draws{{.temperature = 0.8f}, {.temperature = 0.8f}, {}};
  const std::vector<int32_t> got = gpu_sample(logits, V, draws);
  EXPECT_EQ(got[1], -1);
  EXPECT_EQ(got[0], sample_counter(std::span<const float>(logits.data(), size_t(V)), draws[0]));
  EXPECT_EQ(got[2],
            sample_counter(std::span<const float>(logits.data() + 2 * V, size_t(V)), draws[2]));
}

}  // namespace
}  // namespace pagedkv
