#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "core/error.h"

namespace pagedkv {
namespace {

std::vector<float> random_logits(Rng& rng, size_t n) {
  std::vector<float> v(n);
  rng.fill_normal(v, 2.0f);
  return v;
}

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  Rng rng(seed_from_env(11));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  auto logits = random_logits(rng, 300);
  logits[17] = 50.f;
  logits[200] = 50.f;
  SamplingParams p;
  EXPECT_EQ(sample_token(logits, p, rng), 17);
  p.temperature = 1.0f;
  p.top_k = 1;  // top-k 1 is greedy whatever the temperature
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sample_token(logits, p, rng), 17);
}

TEST(Sampler, SameSeedSameTokens) {
  Rng data(seed_from_env(12));
  auto logits = random_logits(data, 500);
  SamplingParams p;
  p.temperature = 0.8f;
  Rng a(99), b(99);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sample_token(logits, p, a), sample_token(logits, p, b));
}

// Frequencies match softmax(logits / T) within a 5-sigma band.
TEST(Sampler, FollowsTheTemperedDistribution) {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f};
  SamplingParams p;
  p.temperature = 0.7f;
  Rng rng(seed_from_env(13));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const int draws = 40000;
  std::vector<int> count(4);
  for (int i = 0; i < draws; ++i) ++count[size_t(sample_token(logits, p, rng))];
  double z = 0;
  for (float l : logits) z += std::exp(l / p.temperature);
  for (size_t i = 0; i < 4; ++i) {
    const double expect = std::exp(logits[i] / p.temperature) / z;
    const double sigma = std::sqrt(expect * (1 - expect) / draws);
    EXPECT_NEAR(double(count[i]) / draws, expect, 5 * sigma + 1e-4) << "token " << i;
  }
}

TEST(Sampler, TopKTopPMinPRestrictTheSupport) {
  // Probabilities at T=1 proportional to exp: token 0 dominant, then 1, 2, ...
  std::vector<float> logits = {4.0f, 3.0f, 2.0f, 1.0f, 0.0f, -1.0f};
  Rng rng(seed_from_env(14));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  auto support = [&](const SamplingParams& p) {
    std::set<int32_t> seen;
    for (int i = 0; i < 5000; ++i) seen.insert(sample_token(logits, p, rng));
    return seen;
  };
  SamplingParams p;
  p.temperature = 1.0f;
  EXPECT_EQ(support(p).size(), 6u);
  p.top_k = 2;
  EXPECT_EQ(support(p), (std::set<int32_t>{0, 1}));
  p.top_k = 0;
  p.top_p = 0.8f;  // p = .636 .234 .086 ...: {0, 1} reaches 0.87
  EXPECT_EQ(support(p), (std::set<int32_t>{0, 1}));
  p.top_p = 1.0f;
  p.min_p = 0.1f;  // keeps p >= 0.0636: {0, 1, 2}
  EXPECT_EQ(support(p), (std::set<int32_t>{0, 1, 2}));
}

TEST(SamplingParams, StopConditions) {
  SamplingParams p;
  p.max_tokens = 5;
  p.stop_token_ids = {7};
  p.stop_sequences = {{3, 4}};
  std::vector<int32_t> out = {1};
  EXPECT_EQ(check_stop(p, out), FinishReason::kNone);
  out = {1, 7};
  EXPECT_EQ(check_stop(p, out), FinishReason::kStopToken);
  EXPECT_EQ(out, (std::vector<int32_t>{1}));  // the stop token is not part of the answer
  out = {1, 3, 4};
  EXPECT_EQ(check_stop(p, out), FinishReason::kStopSequence);
  EXPECT_EQ(out, (std::vector<int32_t>{1}));
  out = {1, 2, 3, 5, 6};
  EXPECT_EQ(check_stop(p, out), FinishReason::kLength);
}

TEST(SamplingParams, RejectsBadValues) {
  const int32_t vocab = 100;
  SamplingParams ok;
  EXPECT_NO_THROW(validate_sampling_params(ok, vocab));
  auto bad = [&](auto mutate) {
    SamplingParams p;
    mutate(p);
    EXPECT_THROW(validate_sampling_params(p, vocab), Error);
  };
  bad([](SamplingParams& p) { p.max_tokens = 0; });
  bad([](SamplingParams& p) { p.n = 0; });
  bad([](SamplingParams& p) { p.temperature = -1; });
  bad([](SamplingParams& p) { p.top_p = 0; });
  bad([](SamplingParams& p) { p.min_p = 2; });
  bad([](SamplingParams& p) { p.stop_token_ids = {100}; });
  bad([](SamplingParams& p) { p.stop_sequences = {{}}; });
}

}  // namespace
}  // namespace pagedkv
