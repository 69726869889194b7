#pragma once
// The counter-based sampler: the draw the GPU sampler makes (engine/cuda/sampler_cuda.h), written
// once for the host and the device. A token is a pure function of (logits, knobs, seed, counter):
// the random bits come from Philox4x32-10 keyed by the sample's seed, counted by the sample's
// token index and the vocabulary index, so a sample draws the same tokens whatever it is batched
// with and whichever row it sits in, run after run, and with no generator state to carry.
//
// The draw: temperature -> top-k -> top-p -> min-p as thresholds on the logits, then the Gumbel-max
// trick over the tokens left: argmax_i((l_i - max) / T + G_i), G_i = -log(-log(u_i)), which is an
// exact draw from softmax(l / T) over them. No sort: each threshold is the largest logit (by its
// order-preserving bit pattern, 32 bisection steps) that keeps k tokens / top_p of the mass. Ties
// at a threshold are all kept (top-k may keep more than k tokens when logits tie exactly).
// Cost per row: O(V) for greedy; O(32 V) with top-k or top-p.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>

#if defined(__CUDACC__)
#define PKV_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define PKV_HOST_DEVICE inline
#endif

namespace pagedkv {

struct CounterDraw {
  float temperature = 0.f;  // 0: greedy (argmax, lowest id wins ties)
  int32_t top_k = 0;        // <= 0: off
  float top_p = 1.f;        // >= 1: off
  float min_p = 0.f;        // <= 0: off
  uint64_t seed = 0;        // the sample's key (request seed + sample index)
  uint64_t counter = 0;     // the sample's token index (tokens generated so far)
};

// Philox4x32-10 (Salmon et al., SC'11) on the block c under key (k0, k1), in place.
PKV_HOST_DEVICE void philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c[0], p1 = uint64_t(0xCD9E8D57u) * c[2];
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c[1] ^ k0, n2 = uint32_t(p0 >> 32) ^ c[3] ^ k1;
    c[1] = uint32_t(p1);
    c[3] = uint32_t(p0);
    c[0] = n0;
    c[2] = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// 32 random bits for (counter, index) under key: the first word of block
// {index, counter lo, counter hi, 0}.
PKV_HOST_DEVICE uint32_t philox_u32(uint64_t key, uint64_t counter, uint32_t index) {
  uint32_t c[4] = {index, uint32_t(counter), uint32_t(counter >> 32), 0};
  philox4x32_10(c, uint32_t(key), uint32_t(key >> 32));
  return c[0];
}

// Gumbel noise from 32 random bits: u in (0, 1) from the top 24 bits, -log(-log(u)).
PKV_HOST_DEVICE float gumbel_noise(uint32_t bits) {
  const float u = (float(bits >> 8) + 0.5f) * (1.0f / 16777216.0f);
  return -logf(-logf(u));
}

// An unsigned key with the order of the floats (for finite values and -inf).
PKV_HOST_DEVICE uint32_t order_key(float x) {
  uint32_t b;
  memcpy(&b, &x, 4);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// Largest key x >= lo with f(x) >= target, for f non-increasing in x (32 bisection steps). On the
// device f is a CTA-wide reduction, the same for every thread, so the loop stays uniform.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <typename F, typename T>
PKV_HOST_DEVICE uint32_t largest_key_reaching(uint32_t lo, T target, F f) {
  uint32_t hi = 0xFFFFFFFFu;
  while (lo < hi) {
    const uint32_t mid = lo + uint32_t((uint64_t(hi) - lo + 1) / 2);
    if (f(mid) >= target)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// The last cut, after top-k / top-p gave `thr`: min-p's floor (max + T log min_p) raises it, and
// it never passes the most likely token (max_logit), which always stays.
PKV_HOST_DEVICE uint32_t final_threshold(uint32_t thr, float max_logit, const CounterDraw& d) {
  if (d.min_p > 0.f) {
    const uint32_t floor = order_key(max_logit + d.temperature * logf(d.min_p));
    if (floor > thr) thr = floor;
  }
  const uint32_t top = order_key(max_logit);
  return thr > top ? top : thr;
}

// The host twin of the GPU sampler: the token, or -1 when a logit is NaN or +inf.
int32_t sample_counter(std::span<const float> logits, const CounterDraw& d);

}  // namespace pagedkv
