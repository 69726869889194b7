#include "model/testing/hf_parity.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"

namespace pagedkv {

double expect_matches_hf(const CausalLm& model, const HfFixture& fx, int32_t block_size,
                         double tolerance) {
  const int64_t V = model.config().vocab_size;
  EXPECT_EQ(V, fx.vocab_size);
  if (V != fx.vocab_size) return 1.0;
  auto argmax = [V](const float* l) { return int32_t(std::max_element(l, l + V) - l); };
  double worst = 0;
  for (size_t i = 0; i < fx.prompts.size(); ++i) {
    SCOPED_TRACE(str_cat("prompt ", i));
    const auto& prompt = fx.prompts[i];
    const auto& gen = fx.generated[i];
    const int64_t P = int64_t(prompt.size());
    int64_t tokens = P + int64_t(gen.size());
    KvCache cache(model.kv_cache_config(int32_t(tokens / block_size + 4), block_size));
    const SeqId seq = 7;
    cache.add_sequence(seq);
    std::vector<float> rows = model.prefill(cache, seq, prompt);  // [P, V]
    for (size_t s = 0; s + 1 < gen.size(); ++s) {
      const std::vector<float> l = model.decode(cache, std::span<const SeqId>(&seq, 1),
                                                std::span<const int32_t>(&gen[s], 1));
      rows.insert(rows.end(), l.begin(), l.end());
    }
    EXPECT_EQ(rows.size(), fx.logits[i].size());
    if (rows.size() != fx.logits[i].size()) return 1.0;
    for (int64_t t = 0; t < int64_t(rows.size()) / V; ++t) {
      const double err = relative_error({rows.data() + t * V, size_t(V)},
                                        {fx.logits[i].data() + t * V, size_t(V)});
      worst = std::max(worst, err);
      EXPECT_LE(err, tolerance) << "row " << t << (t < P ? " (prefill)" : " (decode)");
      if (t >= P - 1) {
        EXPECT_EQ(argmax(rows.data() + t * V), gen[t - (P - 1)]) << "greedy token at row " << t;
      }
    }
  }
  return worst;
}

}  // namespace pagedkv
