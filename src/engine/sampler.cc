#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace pagedkv {

int32_t argmax(std::span<const float> logits) {
  PKV_CHECK(!logits.empty(), InvalidArgument, "argmax over empty logits");
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[size_t(best)]) best = int32_t(i);
  return best;
}

int32_t sample_token(std::span<const float> logits, const SamplingParams& p, Rng& rng) {
  if (p.temperature == 0.0f) return argmax(logits);
  const size_t vocab = logits.size();
  PKV_CHECK(vocab > 0, InvalidArgument, "sampling over empty logits");

  // Candidates sorted by logit, descending (ties by id), cut to top-k.
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[size_t(a)] > logits[size_t(b)] ||
           (logits[size_t(a)] == logits[size_t(b)] && a < b);
  };
  size_t keep = vocab;
  if (p.top_k > 0 && size_t(p.top_k) < vocab) keep = size_t(p.top_k);
  std::partial_sort(ids.begin(), ids.begin() + std::ptrdiff_t(keep), ids.end(), by_logit);
  ids.resize(keep);

  // Softmax of logit / T over the candidates, in f64 so tiny probabilities keep their order.
  const double inv_t = 1.0 / double(p.temperature);
  const double top = double(logits[size_t(ids[0])]) * inv_t;
  std::vector<double> prob(keep);
  double total = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    prob[i] = std::exp(double(logits[size_t(ids[i])]) * inv_t - top);
    total += prob[i];
  }
  for (double& x : prob) x /= total;

  // top-p: the smallest prefix whose mass reaches top_p (always at least one token).
  if (p.top_p < 1.0f) {
    double mass = 0.0;
    size_t cut = 0;
    while (cut < keep) {
      mass += prob[cut++];
      if (mass >= double(p.top_p)) break;
    }
    keep = cut;
  }
  // min-p: drop tokens less likely than min_p times the most likely one.
  if (p.min_p > 0.0f) {
    const double floor = double(p.min_p) * prob[0];
    size_t cut = 1;
    while (cut < keep && prob[cut] >= floor) ++cut;
    keep = cut;
  }

  double kept_mass = 0.0;
  for (size_t i = 0; i < keep; ++i) kept_mass += prob[i];
  const double u = std::uniform_real_distribution<double>(0.0, kept_mass)(rng.engine());
  double acc = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    acc += prob[i];
    if (u < acc) return ids[i];
  }
  return ids[keep - 1];
}

TokenLogprobs token_logprobs(std::span<const float> logits, int32_t token, int32_t top_n) {
  PKV_CHECK(token >= 0 && size_t(token) < logits.size(), InvalidArgument, "token_logprobs: token ",
            token, " outside the ", logits.size(), " logits");
  double mx = -INFINITY;
  for (float l : logits) mx = std::max(mx, double(l));
  double sum = 0.0;
  for (float l : logits) sum += std::exp(double(l) - mx);
  const double log_z = mx + std::log(sum);
  TokenLogprobs r;
  r.token = token;
  r.logprob = float(double(logits[size_t(token)]) - log_z);
  const size_t n = std::min(size_t(std::max(top_n, 0)), logits.size());
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + std::ptrdiff_t(n), ids.end(),
                    [&](int32_t a, int32_t b) {
                      return logits[size_t(a)] > logits[size_t(b)] ||
                             (logits[size_t(a)] == logits[size_t(b)] && a < b);
                    });
  for (size_t i = 0; i < n; ++i)
    r.top.push_back({ids[i], float(double(logits[size_t(ids[i])]) - log_z)});
  return r;
}

}  // namespace pagedkv
