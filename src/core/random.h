#pragma once
// Seeded random numbers for tests, benchmarks and synthetic models. Every consumer prints its
// seed on failure; PAGEDKV_SEED in the environment overrides the default so a failure replays.

#include <cstdint>
#include <cstdlib>
#include <random>
#include <span>

namespace pagedkv {

inline uint64_t seed_from_env(uint64_t fallback) {
  const char* s = std::getenv("PAGEDKV_SEED");
  return s ? std::strtoull(s, nullptr, 10) : fallback;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : seed_(seed), gen_(seed) {}
  uint64_t seed() const { return seed_; }
  float normal(float mean = 0.f, float stddev = 1.f) {
    return std::normal_distribution<float>(mean, stddev)(gen_);
  }
  float uniform(float lo = -1.f, float hi = 1.f) {
    return std::uniform_real_distribution<float>(lo, hi)(gen_);
  }
  // Uniform integer in [lo, hi] (both inclusive).
  int64_t uniform_int(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen_);
  }
  bool bernoulli(double p) { return std::bernoulli_distribution(p)(gen_); }
  void fill_normal(std::span<float> out, float stddev = 1.f) {
    for (float& x : out) x = normal(0.f, stddev);
  }
  std::mt19937_64& engine() { return gen_; }

 private:
  uint64_t seed_;
  std::mt19937_64 gen_;
};

}  // namespace pagedkv
