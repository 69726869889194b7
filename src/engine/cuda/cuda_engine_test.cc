// The engine with the CUDA runner (skips without a GPU): a busy run on the GPU fixtures — shared
// prompt prefixes, n = 2 forks, chunked prefill, a pool small enough to force preemption — gives
// every request the tokens it gets alone (greedy, and seeded sampling drawn on the GPU) in
// batch-invariant mode (the fast kernels' agreement is reported); aborted requests give their
// blocks back.

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/error.h"
#include "engine/cuda/cuda_model_runner.h"
#include "engine/engine.h"
#include "model/testing/hf_fixture.h"

namespace pagedkv {
namespace {

#define REQUIRE_GPU() \
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: GPU test skipped"

struct Work {
  std::vector<int32_t> prompt;
  SamplingParams params;
};

// 16 requests over the fixture's prompts: prefixes of the long one (shared blocks), the others,
// greedy or (every third) seeded sampling, 4 to 20 new tokens, every fourth with n = 2.
std::vector<Work> workload(const HfFixture& fx) {
  std::vector<Work> w;
  const std::vector<int32_t>& longest = fx.prompts.back();
  for (int i = 0; i < 16; ++i) {
    Work r;
    if (i % 3 == 2) {
      r.prompt = fx.prompts[size_t(i) % fx.prompts.size()];
    } else {
      const size_t len = std::min(longest.size(), size_t(24 + 5 * i));
      r.prompt.assign(longest.begin(), longest.begin() + int64_t(len));
    }
    r.params.max_tokens = 4 + (i * 7) % 17;
    r.params.n = i % 4 == 1 ? 2 : 1;
    if (i % 3 == 0) {  // seeded sampling, drawn on the GPU
      r.params.temperature = 0.8f;
      r.params.top_k = 40;
      r.params.top_p = 0.9f;
      r.params.seed = uint64_t(1000 + i);
    }
    w.push_back(std::move(r));
  }
  return w;
}

EngineConfig config(int32_t blocks) {
  EngineConfig c;
  c.num_blocks = blocks;
  c.block_size = 16;
  c.max_model_len = 512;
  c.scheduler.max_num_batched_tokens = 48;  // prompts take several chunks
  c.scheduler.max_num_seqs = 16;
  return c;
}

class CudaEngine : public testing::TestWithParam<const char*> {};

// Batch-invariant mode (CausalLmCuda::set_batch_invariant) must give every request its solo
// tokens: a row's logits have the same bits in any batch, chunking or recomputation. The fast
// kernels are not batch-invariant (the GEMM configuration and the decode attention's split count
// follow the batch), so there a request forks from its solo run wherever its top two logits are
// closer than that rounding: for them the test reports the count and checks only what holds
// regardless (every request finishes, its samples are the right number and each is non-empty);
// the rows' agreement within a bound is model_cuda_test's DecodeBatchAgainstEachAlone.
class CudaEngineModes : public testing::TestWithParam<std::tuple<const char*, bool>> {};

TEST_P(CudaEngineModes, BusyRunWithPreemptionsMatchesEachRequestAlone) {
  REQUIRE_GPU();
  const auto [family, invariant] = GetParam();
  const std::string dir = str_cat("testdata/gpu/", family);
  const HfFixture fx = load_hf_fixture(dir);
  CudaModelRunner runner(CausalLmCuda::load(dir));
  runner.model().set_batch_invariant(invariant);
  const std::vector<Work> work = workload(fx);
  Engine busy(runner, config(24));  // far fewer blocks than all requests at once need
  for (const Work& w : work) busy.add_request(w.prompt, w.params);
  const std::vector<RequestOutput> outs = busy.run();
  const EngineMetrics m = busy.metrics();
  EXPECT_GT(m.preemptions, 0) << "the pool was meant to be too small";
  EXPECT_GT(m.prefix_hit_tokens, 0);
  EXPECT_EQ(m.blocks_used, 0);
  ASSERT_EQ(outs.size(), work.size());
  int same = 0;
  for (size_t i = 0; i < work.size(); ++i) {
    Engine alone(runner, config(256));
    alone.add_request(work[i].prompt, work[i].params);
    const RequestOutput a = alone.run().at(0);
    bool ok = a.samples.size() == outs[i].samples.size();
    for (size_t s = 0; ok && s < a.samples.size(); ++s)
      ok = a.samples[s].tokens == outs[i].samples[s].tokens;
    same += ok ? 1 : 0;
    if (invariant) {
      EXPECT_TRUE(ok) << "request " << i << " differs from its solo run";
    }
    ASSERT_EQ(outs[i].samples.size(), a.samples.size()) << "request " << i;
    for (const auto& sample : outs[i].samples) EXPECT_FALSE(sample.tokens.empty());
  }
  std::printf(
      "[ gpu engine %s%s ] %d/%zu requests identical alone and busy; %lld preemptions, %lld "
      "prefix-hit tokens\n",
      family, invariant ? ", batch-invariant" : "", same, work.size(), (long long)m.preemptions,
      (long long)m.prefix_hit_tokens);
}

TEST_P(CudaEngine, AbortGivesBlocksBack) {
  REQUIRE_GPU();
  const std::string dir = str_cat("testdata/gpu/", GetParam());
  const HfFixture fx = load_hf_fixture(dir);
  CudaModelRunner runner(CausalLmCuda::load(dir));
  Engine e(runner, config(128));
  SamplingParams p;
  p.max_tokens = 20;
  std::vector<RequestId> ids;
  for (const auto& prompt : fx.prompts) ids.push_back(e.add_request(prompt, p));
  for (int s = 0; s < 6; ++s) e.step();
  ASSERT_GT(e.metrics().blocks_used, 0);
  const auto aborted = e.abort(ids[1]);
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(aborted->samples.at(0).finish, FinishReason::kAbort);
  e.run();
  EXPECT_EQ(e.metrics().blocks_used, 0);
  EXPECT_FALSE(e.abort(ids[1]).has_value());
}

INSTANTIATE_TEST_SUITE_P(Families, CudaEngine, testing::Values("llama3", "gemma3", "llama4"));
INSTANTIATE_TEST_SUITE_P(Families, CudaEngineModes,
                         testing::Combine(testing::Values("llama3", "gemma3", "llama4"),
                                          testing::Bool()),
                         [](const auto& info) {
                           return str_cat(std::get<0>(info.param),
                                          std::get<1>(info.param) ? "_batch_invariant" : "_fast");
                         });

}  // namespace
}  // namespace pagedkv
