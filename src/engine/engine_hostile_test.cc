// Hostile requests at the engine (issue 20): forked samples stay within max_num_seqs and the
// token budget; non-finite logits fail their request with a clear error while the engine and its
// other requests go on; the dense reference forward (model/reference_forward.h) agrees with the
// engine on the synthetic model, so the demo's check against it is meaningful.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "engine/engine.h"
#include "engine/models.h"
#include "model/random_weights.h"
#include "model/synthetic_model.h"

namespace pagedkv {
namespace {

std::vector<int32_t> alone(const CausalLm& model, const std::vector<int32_t>& prompt,
                           const SamplingParams& p) {
  EngineConfig c;
  c.num_blocks = 256;
  c.block_size = 4;
  Engine e(model, c);
  e.add_request(prompt, p);
  return e.run().at(0).samples.at(0).tokens;
}

TEST(EngineHostile, ForkedSamplesObeyMaxSeqsAndTheTokenBudget) {
  const CausalLm model = make_synthetic_model(SyntheticModelSpec::small());
  EngineConfig c;
  c.num_blocks = 256;
  c.block_size = 4;
  c.scheduler.max_num_seqs = 2;
  c.scheduler.max_num_batched_tokens = 2;
  Engine e(model, c);
  SamplingParams p;
  p.n = 2;
  p.max_tokens = 6;
  p.temperature = 0.7f;
  for (int r = 0; r < 4; ++r) {
    p.seed = uint64_t(r);
    e.add_request({int32_t(1 + r), 2, 3}, p);
  }
  int64_t tokens_before = 0;
  while (e.has_unfinished()) {
    e.step();
    const EngineMetrics m = e.metrics();
    // Before the fix a request's fork joined whatever else was admitted: 3 or 4 running.
    EXPECT_LE(m.running, 2) << "step " << m.steps;
    const int64_t tokens = m.prefill_tokens + m.decode_tokens;
    EXPECT_LE(tokens - tokens_before, 2) << "step " << m.steps;
    tokens_before = tokens;
  }
  EXPECT_EQ(e.metrics().finished_requests, 4);
  // A request wider than max_num_seqs could never run all its samples: refused up front.
  p.n = 3;
  try {
    e.add_request({1, 2, 3}, p);
    FAIL() << "accepted n = 3 with max_num_seqs 2";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("more than max_num_seqs (2)"), std::string::npos)
        << err.what();
  }
}

TEST(EngineHostile, NonFiniteLogitsFailTheRequestAndTheEngineGoesOn) {
  // The synthetic model with token 7's embedding NaN: any prompt holding token 7 yields NaN
  // logits (its K/V poison attention), others are untouched.
  const SyntheticModelSpec spec = SyntheticModelSpec::small();
  ModelConfig config = synthetic_model_config(spec);
  Rng rng(spec.seed);
  ModelWeights w = random_model_weights(config, rng);
  const int64_t V = config.vocab_size, H = config.hidden_size;
  std::vector<float> embed(size_t(V * H));
  for (int64_t t = 0; t < V; ++t) w.embed->row(t, embed.data() + t * H);
  for (int64_t i = 0; i < H; ++i)
    embed[size_t(7 * H + i)] = std::numeric_limits<float>::quiet_NaN();
  w.embed = std::make_shared<PackedMatrix>(PackedMatrix::from_f32(embed.data(), V, H));
  const CausalLm model(config, std::move(w));

  SamplingParams p;
  p.max_tokens = 5;
  EngineConfig c;
  c.num_blocks = 64;
  c.block_size = 4;
  Engine e(model, c);
  e.add_request({1, 2, 3}, p);
  e.add_request({1, 7, 3}, p);
  p.n = 2;  // a failing request with forks pending fails whole
  e.add_request({7, 5}, p);
  p.n = 1;
  e.add_request({4, 5, 6, 8, 9}, p);
  const std::vector<RequestOutput> out = e.run();
  ASSERT_EQ(out.size(), 4u);
  for (int r : {1, 2}) {
    EXPECT_NE(out[r].error.find("non-finite logit"), std::string::npos) << out[r].error;
    EXPECT_NE(out[r].error.find(str_cat("request ", r)), std::string::npos) << out[r].error;
    for (const SampleOutput& s : out[r].samples) EXPECT_EQ(s.finish, FinishReason::kAbort);
  }
  EXPECT_TRUE(out[0].error.empty());
  EXPECT_TRUE(out[3].error.empty());
  EXPECT_EQ(out[0].samples[0].tokens, alone(model, {1, 2, 3}, p));
  EXPECT_EQ(out[3].samples[0].tokens, alone(model, {4, 5, 6, 8, 9}, p));
  EXPECT_EQ(e.metrics().blocks_used, 0);  // the failed requests' blocks went back
  // The engine is alive: a new request runs to the end.
  e.add_request({9, 9, 9}, p);
  const std::vector<RequestOutput> later = e.run();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_TRUE(later[0].error.empty());
  EXPECT_EQ(later[0].samples[0].tokens.size(), 5u);
}

TEST(EngineHostile, ReferenceForwardAgreesWithTheEngine) {
  const SyntheticModelSpec spec = SyntheticModelSpec::small();
  const CausalLm model = make_synthetic_model(spec);
  SamplingParams greedy;
  greedy.max_tokens = 24;
  for (const std::vector<int32_t>& prompt :
       {std::vector<int32_t>{1, 2, 3}, std::vector<int32_t>{500, 17, 42, 99, 3, 3, 3, 8, 250}}) {
    EXPECT_EQ(synthetic_reference_greedy(spec, prompt, 24), alone(model, prompt, greedy));
  }
  // It is a real check: a different model's tokens differ.
  SyntheticModelSpec other = spec;
  other.seed = spec.seed + 1;
  EXPECT_NE(synthetic_reference_greedy(other, {1, 2, 3}, 24), alone(model, {1, 2, 3}, greedy));
}

}  // namespace
}  // namespace pagedkv
