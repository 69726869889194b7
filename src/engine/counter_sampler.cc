#include "engine/counter_sampler.h"

#include <cstring>

namespace pagedkv {

int32_t sample_counter(std::span<const float> l, const CounterDraw& d) {
  const size_t V = l.size();
  if (V == 0) return -1;
  float m = l[0];
  size_t best = 0;
  for (size_t i = 0; i < V; ++i) {
    if (std::isnan(l[i]) || l[i] == INFINITY) return -1;
    if (l[i] > m) m = l[i], best = i;
  }
  if (d.temperature <= 0.f) return int32_t(best);
  const float inv_t = 1.f / d.temperature;
  uint32_t thr = 0;
  if (d.top_k > 0 && size_t(d.top_k) < V) {
    thr = largest_key_reaching(0u, int64_t(d.top_k), [&](uint32_t x) {
      int64_t n = 0;
      for (size_t i = 0; i < V; ++i) n += order_key(l[i]) >= x;
      return n;
    });
  }
  if (d.top_p < 1.f) {
    const auto mass = [&](uint32_t x) {
      float s = 0.f;
      for (size_t i = 0; i < V; ++i)
        if (order_key(l[i]) >= x) s += expf((l[i] - m) * inv_t);
      return s;
    };
    thr = largest_key_reaching(thr, d.top_p * mass(thr), mass);
  }
  thr = final_threshold(thr, m, d);
  int32_t token = -1;
  float score = -INFINITY;
  for (size_t i = 0; i < V; ++i) {
    if (order_key(l[i]) < thr) continue;
    const float s = (l[i] - m) * inv_t + gumbel_noise(philox_u32(d.seed, d.counter, uint32_t(i)));
    if (token < 0 || s > score) token = int32_t(i), score = s;
  }
  return token;
}

}  // namespace pagedkv
