// The engine end to end: determinism under load on the four HF fixture families (a busy run with
// shared prefixes, n = 2 forks and preemptions gives every request the tokens it gets alone), one
// copy of a shared 1,024-token prefix for 64 requests, bad requests rejected without disturbing
// running ones, stop conditions.

#include "engine/engine.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/error.h"
#include "core/random.h"
#include "engine/cpu_model_runner.h"
#include "engine/models.h"
#include "model/synthetic_model.h"
#include "model/testing/hf_fixture.h"

namespace pagedkv {
namespace {

struct TestRequest {
  std::vector<int32_t> prompt;
  SamplingParams params;
};

std::vector<int32_t> random_tokens(Rng& rng, int64_t n, int64_t vocab) {
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = int32_t(rng.uniform_int(0, vocab - 1));
  return t;
}

// 64 requests: three shared system prompts (and a few without), random suffixes and lengths,
// every fifth with n = 2, a few sampled with temperature (seeded per sample).
std::vector<TestRequest> busy_workload(Rng& rng, int64_t vocab) {
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 3; ++i) prefixes.push_back(random_tokens(rng, rng.uniform_int(9, 40), vocab));
  std::vector<TestRequest> out;
  for (int i = 0; i < 64; ++i) {
    TestRequest r;
    if (i % 8 != 7) r.prompt = prefixes[size_t(i % 3)];
    const auto suffix = random_tokens(rng, rng.uniform_int(1, 12), vocab);
    r.prompt.insert(r.prompt.end(), suffix.begin(), suffix.end());
    r.params.max_tokens = int32_t(rng.uniform_int(1, 14));
    r.params.n = i % 5 == 0 ? 2 : 1;
    if (i % 16 == 3) {
      r.params.temperature = 0.8f;
      r.params.top_k = 20;
      r.params.seed = uint64_t(1000 + i);
    }
    out.push_back(std::move(r));
  }
  return out;
}

RequestOutput run_alone(const CausalLm& model, const TestRequest& r) {
  EngineConfig c;
  c.num_blocks = 512;
  c.block_size = 4;
  c.max_model_len = 512;
  Engine e(model, c);
  e.add_request(r.prompt, r.params);
  std::vector<RequestOutput> out = e.run();
  EXPECT_EQ(out.size(), 1u);
  return out.at(0);
}

class EngineFamilyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineFamilyTest, BusyRunMatchesEachRequestAlone) {
  const CausalLm model = CausalLm::load(str_cat(PAGEDKV_TESTDATA_DIR, "/", GetParam()));
  const int64_t V = model.config().vocab_size;
  Rng rng(seed_from_env(20251128));
  SCOPED_TRACE(str_cat("seed=", rng.seed(), " family=", GetParam()));
  const std::vector<TestRequest> work = busy_workload(rng, V);

  EngineConfig c;
  c.num_blocks = 40;  // ~2-3 long requests' worth: forces preemption
  c.block_size = 4;
  c.max_model_len = 512;
  c.scheduler.max_num_batched_tokens = 24;  // long prompts take several chunks
  c.scheduler.max_num_seqs = 16;
  Engine busy(model, c);
  for (const TestRequest& r : work) busy.add_request(r.prompt, r.params);
  std::vector<RequestOutput> outs;
  while (busy.has_unfinished()) {
    for (RequestOutput& o : busy.step()) outs.push_back(std::move(o));
    busy.cache().check_invariants();
  }
  const EngineMetrics m = busy.metrics();
  EXPECT_GT(m.preemptions, 0) << "the pool was meant to be small enough to preempt";
  EXPECT_GT(m.prefix_hit_tokens, 0);
  EXPECT_EQ(m.blocks_used, 0) << "every block released at the end";
  EXPECT_EQ(m.finished_requests, 64);
  ASSERT_EQ(outs.size(), work.size());
  std::sort(outs.begin(), outs.end(), [](auto& a, auto& b) { return a.id < b.id; });
  for (size_t i = 0; i < work.size(); ++i) {
    SCOPED_TRACE(str_cat("request ", i));
    const RequestOutput alone = run_alone(model, work[i]);
    ASSERT_EQ(outs[i].samples.size(), size_t(work[i].params.n));
    ASSERT_EQ(alone.samples.size(), outs[i].samples.size());
    for (size_t s = 0; s < alone.samples.size(); ++s) {
      EXPECT_EQ(outs[i].samples[s].tokens, alone.samples[s].tokens) << "sample " << s;
      EXPECT_EQ(outs[i].samples[s].finish, alone.samples[s].finish);
      EXPECT_EQ(int32_t(alone.samples[s].tokens.size()), work[i].params.max_tokens);
    }
    // Alone, greedy, the engine equals the model's own prefill + decode loop.
    if (work[i].params.temperature == 0.0f) {
      EXPECT_EQ(alone.samples[0].tokens,
                generate_greedy(model, work[i].prompt, work[i].params.max_tokens, 4));
    }
  }
}

// Every fixture prompt at once through the engine (batched decode, chunked prefill in small
// chunks) reproduces Hugging Face's greedy tokens.
TEST_P(EngineFamilyTest, FixturePromptsTogetherMatchHfGreedy) {
  const std::string dir = str_cat(PAGEDKV_TESTDATA_DIR, "/", GetParam());
  const HfFixture fx = load_hf_fixture(dir);
  const CausalLm model = CausalLm::load(dir);
  EngineConfig c;
  c.block_size = 4;
  c.num_blocks = 128;
  c.max_model_len = 512;
  c.scheduler.max_num_batched_tokens = 16;
  c.scheduler.max_num_seqs = 8;
  Engine e(model, c);
  for (size_t i = 0; i < fx.prompts.size(); ++i) {
    SamplingParams sp;
    sp.max_tokens = int32_t(fx.generated[i].size());
    e.add_request(fx.prompts[i], sp);
  }
  const std::vector<RequestOutput> outs = e.run();
  ASSERT_EQ(outs.size(), fx.prompts.size());
  for (size_t i = 0; i < outs.size(); ++i)
    EXPECT_EQ(outs[i].samples[0].tokens, fx.generated[i]) << "prompt " << i;
}

INSTANTIATE_TEST_SUITE_P(Families, EngineFamilyTest,
                         ::testing::Values("llama3", "qwen3", "gemma3", "llama4"));

// --batch-invariant on the CPU: decode goes through the paged prefill kernel, so a sequence's
// logits have the same bits in a batch and alone even past 256 visible tokens, where the fused
// kernel's KV split follows the batch size; and a decoded row equals the same row recomputed in
// one prefill (what a preempted sequence gets).
TEST(Engine, CpuBatchInvariantDecodeIsBitForBit) {
  const SyntheticModelSpec spec = SyntheticModelSpec::small();  // head_dim 64: fused by default
  const std::unique_ptr<ModelRunner> runner =
      load_synthetic_model(spec, {.device = "cpu", .batch_invariant = true});
  const CausalLm& m = dynamic_cast<const CpuModelRunner&>(*runner).model();
  ASSERT_EQ(m.resolved_decode_kernel(DType::kF32), DecodeKernel::kPagedPrefill);
  Rng rng(seed_from_env(91));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const int64_t V = m.config().vocab_size;
  constexpr size_t kSeqs = 6, kSteps = 3;
  std::vector<std::vector<int32_t>> tokens(kSeqs);
  for (size_t i = 0; i < kSeqs; ++i)
    for (int64_t t = 0; t < 300 + 40 * int64_t(i) + int64_t(kSteps); ++t)
      tokens[i].push_back(int32_t(rng.uniform_int(0, V - 1)));
  auto prompt = [&](size_t i) {
    return std::span<const int32_t>(tokens[i].data(), tokens[i].size() - kSteps);
  };
  std::vector<std::vector<float>> alone(kSeqs), together(kSeqs);
  for (size_t i = 0; i < kSeqs; ++i) {
    KvCache c(m.kv_cache_config(64, 16));
    const SeqId id = SeqId(i);
    c.add_sequence(id);
    m.prefill(c, id, prompt(i), false);
    for (size_t s = 0; s < kSteps; ++s) {
      const auto l = m.decode(c, std::span<const SeqId>(&id, 1),
                              std::span<const int32_t>(&tokens[i][prompt(i).size() + s], 1));
      alone[i].insert(alone[i].end(), l.begin(), l.end());
    }
    KvCache r(m.kv_cache_config(64, 16));  // the whole sequence recomputed in one prefill
    r.add_sequence(id);
    const auto all = m.prefill(r, id, tokens[i], true);
    EXPECT_EQ(std::vector<float>(all.end() - int64_t(kSteps) * V, all.end()), alone[i])
        << "sequence " << i << ": recomputed rows differ from decoded ones";
  }
  KvCache c(m.kv_cache_config(512, 16));
  std::vector<SeqId> ids;
  for (size_t i = 0; i < kSeqs; ++i) {
    ids.push_back(SeqId(i));
    c.add_sequence(SeqId(i));
    m.prefill(c, SeqId(i), prompt(i), false);
  }
  for (size_t s = 0; s < kSteps; ++s) {
    std::vector<int32_t> step;
    for (size_t i = 0; i < kSeqs; ++i) step.push_back(tokens[i][prompt(i).size() + s]);
    const auto l = m.decode(c, ids, step);
    for (size_t i = 0; i < kSeqs; ++i)
      together[i].insert(together[i].end(), l.begin() + int64_t(i) * V,
                         l.begin() + int64_t(i + 1) * V);
  }
  for (size_t i = 0; i < kSeqs; ++i)
    EXPECT_EQ(together[i], alone[i]) << "sequence " << i << " differs in a batch";
}

TEST(Engine, SixtyFourRequestsHoldOneCopyOfASharedPrefix) {
  SyntheticModelSpec spec;
  spec.num_layers = 2;
  spec.intermediate_size = 128;
  const CausalLm model = make_synthetic_model(spec);
  Rng rng(seed_from_env(64));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const int32_t bs = 16;
  const std::vector<int32_t> prefix = random_tokens(rng, 1024, spec.vocab_size);  // 64 blocks
  EngineConfig c;
  c.num_blocks = 400;
  c.block_size = bs;
  c.scheduler.max_num_batched_tokens = 512;
  c.scheduler.max_num_seqs = 64;
  Engine e(model, c);
  for (int i = 0; i < 64; ++i) {
    std::vector<int32_t> p = prefix;
    const auto suffix = random_tokens(rng, 8, spec.vocab_size);
    p.insert(p.end(), suffix.begin(), suffix.end());
    SamplingParams sp;
    sp.max_tokens = 4;
    e.add_request(p, sp);
  }
  int64_t max_running = 0;
  while (e.has_unfinished()) {
    e.step();
    max_running = std::max(max_running, e.metrics().running);
  }
  const EngineMetrics m = e.metrics();
  EXPECT_EQ(max_running, 64) << "all requests ran at once";
  // Each request's private tokens (8 + 3 decoded) fit one block; the 64 prefix blocks are held
  // once. A second copy of the prefix alone would add 64 blocks.
  EXPECT_LE(m.peak_blocks_used, 64 + 64);
  EXPECT_GE(m.peak_blocks_used, 64 + 64);
  EXPECT_EQ(m.prefix_hit_tokens, 63 * 1024);
  EXPECT_EQ(m.prefill_tokens, 1024 + 64 * 8) << "cached prefix tokens are not recomputed";
  EXPECT_GE(m.blocks_cached, 64);
  EXPECT_EQ(m.preemptions, 0);
}

TEST(Engine, SamplesForkThePromptBlocksAndCopyOnlyTheSharedTail) {
  const CausalLm model = CausalLm::load(str_cat(PAGEDKV_TESTDATA_DIR, "/llama3"));
  Rng rng(seed_from_env(4));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  EngineConfig c;
  c.block_size = 4;
  c.num_blocks = 64;
  Engine e(model, c);
  SamplingParams p;
  p.n = 4;
  p.max_tokens = 3;
  p.temperature = 1.0f;  // the samples diverge
  p.seed = 9;
  e.add_request(random_tokens(rng, 30, model.config().vocab_size), p);  // 7 full blocks + 2 tokens
  EXPECT_EQ(e.metrics().waiting_requests, 1);
  EXPECT_EQ(e.metrics().running_requests, 0);
  e.step();  // prefill, fork into 4 samples, first token each
  EXPECT_EQ(e.metrics().running, 4);
  EXPECT_EQ(e.metrics().running_requests, 1) << "4 sequences, one request";
  EXPECT_EQ(e.metrics().waiting_requests, 0);
  EXPECT_EQ(e.metrics().blocks_used, 8) << "the 4 samples share the prompt's 8 blocks";
  e.step();  // each appends one token: 3 copy the shared partial tail, the last owns it
  EXPECT_EQ(e.metrics().blocks_used, 7 + 4);
  const std::vector<RequestOutput> out = e.run();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].samples.size(), 4u);
  std::set<std::vector<int32_t>> distinct;
  for (const SampleOutput& s : out[0].samples) distinct.insert(s.tokens);
  EXPECT_GT(distinct.size(), 1u) << "samples drew from their own generators";
  EXPECT_EQ(e.metrics().blocks_used, 0);
}

TEST(Engine, BadRequestsAreRejectedWithoutDisturbingRunningOnes) {
  const CausalLm model = CausalLm::load(str_cat(PAGEDKV_TESTDATA_DIR, "/llama3"));
  const int64_t V = model.config().vocab_size;
  Rng rng(seed_from_env(77));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  std::vector<TestRequest> good;
  for (int i = 0; i < 6; ++i) {
    TestRequest r;
    r.prompt = random_tokens(rng, rng.uniform_int(3, 30), V);
    r.params.max_tokens = 10;
    r.params.n = i % 3 == 0 ? 2 : 1;
    good.push_back(r);
  }
  EngineConfig c;
  c.num_blocks = 64;
  c.block_size = 4;
  c.max_model_len = 512;
  c.scheduler.max_num_batched_tokens = 32;
  c.scheduler.max_num_seqs = 16;
  auto run = [&](bool with_bad) {
    Engine e(model, c);
    for (const TestRequest& r : good) e.add_request(r.prompt, r.params);
    for (int s = 0; s < 3; ++s) e.step();
    if (with_bad) {
      const std::string before = e.cache().debug_string();
      const EngineMetrics m0 = e.metrics();
      auto expect_rejected = [&](std::vector<int32_t> prompt, SamplingParams p, const char* what) {
        try {
          e.add_request(std::move(prompt), std::move(p));
          ADD_FAILURE() << "accepted a request with " << what;
        } catch (const Error& err) {
          EXPECT_EQ(err.kind(), ErrorKind::kInvalidArgument) << err.what();
          EXPECT_NE(std::string(err.what()).find(what), std::string::npos) << err.what();
        }
      };
      SamplingParams ok;
      ok.max_tokens = 4;
      expect_rejected({}, ok, "prompt is empty");
      expect_rejected({1, int32_t(V), 2}, ok, "outside the vocabulary");
      expect_rejected({1, -1}, ok, "outside the vocabulary");
      SamplingParams zero = ok;
      zero.max_tokens = 0;
      expect_rejected({1, 2, 3}, zero, "max_tokens must be >= 1");
      expect_rejected(std::vector<int32_t>(512, 5), ok, "context is 512");
      expect_rejected(std::vector<int32_t>(510, 5), ok, "exceeds the model's context");
      SamplingParams n0 = ok;
      n0.n = 0;
      expect_rejected({1, 2}, n0, "n (parallel samples) must be in [1, 256]");
      SamplingParams many = ok;  // capped like the other limits (issue 20)
      many.n = 1000000;
      expect_rejected({1, 2}, many, "n (parallel samples) must be in [1, 256]");
      SamplingParams wide = ok;  // more samples than may run at once
      wide.n = 17;
      expect_rejected({1, 2}, wide, "more than max_num_seqs (16)");
      SamplingParams top_k = ok;
      top_k.top_k = -5;
      expect_rejected({1, 2}, top_k, "top_k must be >= 0");
      expect_rejected(std::vector<int32_t>(300, 5), ok, "cannot fit the KV pool");
      EXPECT_EQ(e.cache().debug_string(), before);
      EXPECT_EQ(e.metrics().running, m0.running);
      EXPECT_EQ(e.metrics().waiting, m0.waiting);
    }
    std::vector<RequestOutput> outs = e.run();
    // Request ids stay dense: rejected requests take none.
    for (size_t i = 0; i < outs.size(); ++i) EXPECT_EQ(outs[i].id, RequestId(i));
    return outs;
  };
  const auto clean = run(false);
  const auto disturbed = run(true);
  ASSERT_EQ(clean.size(), good.size());
  ASSERT_EQ(disturbed.size(), good.size());
  for (size_t i = 0; i < clean.size(); ++i)
    for (size_t s = 0; s < clean[i].samples.size(); ++s)
      EXPECT_EQ(disturbed[i].samples[s].tokens, clean[i].samples[s].tokens);
}

TEST(Engine, StopsOnStopTokenAndStopSequence) {
  const CausalLm model = CausalLm::load(str_cat(PAGEDKV_TESTDATA_DIR, "/qwen3"));
  Rng rng(seed_from_env(5));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const std::vector<int32_t> prompt = random_tokens(rng, 10, model.config().vocab_size);
  const std::vector<int32_t> full = generate_greedy(model, prompt, 12, 4);
  // The first position whose token has not appeared before: a stop there cannot fire earlier.
  size_t k = 2;
  while (k < full.size() && std::find(full.begin(), full.begin() + k, full[k]) != full.begin() + k)
    ++k;
  ASSERT_LT(k, full.size()) << "greedy output has no fresh token to stop on";
  EngineConfig c;
  c.block_size = 4;
  c.num_blocks = 64;
  Engine e(model, c);
  SamplingParams stop_tok;
  stop_tok.max_tokens = 12;
  stop_tok.stop_token_ids = {full[k]};
  SamplingParams stop_seq = stop_tok;
  stop_seq.stop_token_ids.clear();
  stop_seq.stop_sequences = {{full[k - 1], full[k]}};
  e.add_request(prompt, stop_tok);
  e.add_request(prompt, stop_seq);
  const auto outs = e.run();
  ASSERT_EQ(outs.size(), 2u);
  // The stop token ends the sample and is not part of it (as EOS is not part of an answer).
  EXPECT_EQ(outs[0].samples[0].tokens, std::vector<int32_t>(full.begin(), full.begin() + k));
  EXPECT_EQ(outs[0].samples[0].finish, FinishReason::kStopToken);
  EXPECT_EQ(outs[1].samples[0].tokens, std::vector<int32_t>(full.begin(), full.begin() + k - 1));
  EXPECT_EQ(outs[1].samples[0].finish, FinishReason::kStopSequence);
}

}  // namespace
}  // namespace pagedkv
