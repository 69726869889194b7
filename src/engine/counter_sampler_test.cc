// The counter-based sampler on the host: Philox against the Random123 known answers, greedy and
// the knobs' edge cases, determinism, and the distribution it draws from.

#include "engine/counter_sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "core/random.h"

namespace pagedkv {
namespace {

TEST(Philox, Random123KnownAnswers) {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    uint32_t c[4] = {k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]};
    philox4x32_10(c, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(c[i], k.out[i]) << "word " << i;
  }
}

TEST(CounterSampler, OrderKeyKeepsTheOrderOfFloats) {
  const float xs[] = {-INFINITY, -1e30f, -2.5f, -0.f, 0.f, 1e-30f, 3.f, 1e30f};
  for (size_t i = 0; i + 1 < std::size(xs); ++i)
    EXPECT_LE(order_key(xs[i]), order_key(xs[i + 1])) << xs[i] << " vs " << xs[i + 1];
  EXPECT_LT(order_key(-2.5f), order_key(3.f));
}

TEST(CounterSampler, GreedyAndKnobsThatLeaveOneToken) {
  Rng rng(seed_from_env(5));
  std::vector<float> l(1000);
  rng.fill_normal(l, 2.f);
  l[17] = l[600] = 9.f;  // a tie at the top: the lower id wins
  EXPECT_EQ(sample_counter(l, {}), 17);
  // top-k keeps every token tied at its threshold: both maxima stay, and both are drawn.
  std::set<int32_t> tied;
  for (uint64_t c = 0; c < 50; ++c)
    tied.insert(sample_counter(l, {.temperature = 1.f, .top_k = 1, .counter = c}));
  EXPECT_EQ(tied, (std::set<int32_t>{17, 600}));
  l[600] = 8.f;
  for (uint64_t c = 0; c < 50; ++c) {
    EXPECT_EQ(sample_counter(l, {.temperature = 1.f, .top_k = 1, .counter = c}), 17);
    EXPECT_EQ(sample_counter(l, {.temperature = 1.f, .min_p = 1.f, .counter = c}), 17);
    EXPECT_EQ(sample_counter(l, {.temperature = 1.f, .top_p = 1e-6f, .counter = c}), 17);
  }
}

TEST(CounterSampler, NonFiniteLogitsGiveMinusOne) {
  std::vector<float> l(64, 0.5f);
  l[3] = NAN;
  EXPECT_EQ(sample_counter(l, {.temperature = 1.f}), -1);
  EXPECT_EQ(sample_counter(l, {}), -1);
  l[3] = INFINITY;
  EXPECT_EQ(sample_counter(l, {.temperature = 1.f}), -1);
  l[3] = -INFINITY;  // a masked token is fine
  EXPECT_GE(sample_counter(l, {.temperature = 1.f}), 0);
}

TEST(CounterSampler, APureFunctionOfSeedAndCounter) {
  std::vector<float> l(500, 0.f);  // flat: every token equally likely
  std::set<int32_t> seen;
  for (uint64_t c = 0; c < 200; ++c) {
    const CounterDraw d{.temperature = 1.f, .seed = 42, .counter = c};
    const int32_t t = sample_counter(l, d);
    EXPECT_EQ(t, sample_counter(l, d));
    seen.insert(t);
  }
  EXPECT_GT(seen.size(), 100u) << "draws of different counters look dependent";
  int differ = 0;
  for (uint64_t c = 0; c < 100; ++c)
    differ += sample_counter(l, {.temperature = 1.f, .seed = 1, .counter = c}) !=
              sample_counter(l, {.temperature = 1.f, .seed = 2, .counter = c});
  EXPECT_GT(differ, 90);
}

// Expected probabilities under temperature -> top-k -> top-p -> min-p, by the definition (sorted
// candidates, prefix mass), against the frequencies of 60,000 draws.
TEST(CounterSampler, DrawsFromTheTruncatedSoftmax) {
  const std::vector<float> l{1.0f, 2.2f, -0.3f, 1.7f, 0.4f, 2.0f, -1.0f, 0.9f};
  const CounterDraw cases[] = {
      {.temperature = 1.f},
      {.temperature = 0.7f, .top_k = 5},
      {.temperature = 1.3f, .top_p = 0.8f},
      {.temperature = 1.f, .top_k = 6, .top_p = 0.9f, .min_p = 0.2f},
  };
  for (const CounterDraw& base : cases) {
    SCOPED_TRACE(testing::Message() << "T=" << base.temperature << " k=" << base.top_k
                                    << " p=" << base.top_p << " min_p=" << base.min_p);
    std::vector<int> ids(l.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::sort(ids.begin(), ids.end(), [&](int a, int b) { return l[a] > l[b]; });
    size_t keep = base.top_k > 0 ? size_t(base.top_k) : l.size();
    std::vector<double> p(keep);
    double z = 0;
    for (size_t i = 0; i < keep; ++i)
      z += p[i] = std::exp((l[ids[i]] - l[ids[0]]) / base.temperature);
    for (double& x : p) x /= z;
    if (base.top_p < 1.f) {
      double mass = 0;
      size_t cut = 0;
      while (cut < keep && mass < base.top_p) mass += p[cut++];
      keep = cut;
    }
    size_t cut = 1;
    while (cut < keep && p[cut] >= base.min_p * p[0]) ++cut;
    keep = cut;
    double kept = 0;
    for (size_t i = 0; i < keep; ++i) kept += p[i];
    std::vector<double> expect(l.size(), 0.0);
    for (size_t i = 0; i < keep; ++i) expect[ids[i]] = p[i] / kept;
    const int draws = 60000;
    std::vector<int> count(l.size(), 0);
    for (int c = 0; c < draws; ++c) {
      CounterDraw d = base;
      d.seed = 7;
      d.counter = uint64_t(c);
      ++count[size_t(sample_counter(l, d))];
    }
    for (size_t i = 0; i < l.size(); ++i) {
      const double f = double(count[i]) / draws;
      // 5 standard deviations of a binomial frequency (and exactly zero outside the kept set)
      const double tol = 5 * std::sqrt(expect[i] * (1 - expect[i]) / draws) + 1e-12;
      EXPECT_NEAR(f, expect[i], tol) << "token " << i;
    }
  }
}

}  // namespace
}  // namespace pagedkv
