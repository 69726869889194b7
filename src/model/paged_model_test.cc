// The model over the paged cache: where blocks lie never changes a bit of the logits (shuffled
// block tables, a prefix shared by two sequences), a batch decodes like each sequence alone,
// sliding layers hold at most ceil(W / bs) + 1 blocks, and a prompt prefilled in two pieces (the
// first as if from a prefix cache) attends to the earlier blocks in place.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "core/random.h"
#include "model/causal_lm.h"
#include "model/testing/hf_fixture.h"

namespace pagedkv {
namespace {

constexpr int32_t kBlockSize = 4;
constexpr int32_t kPoolBlocks = 96;

struct StepLogits {
  std::vector<float> logits;  // prefill rows then one row per decode step
};

// Prefill prompt, then decode `steps` tokens (teacher-forced from gen) for one sequence.
StepLogits run_alone(const CausalLm& m, KvCache& cache, SeqId seq,
                     const std::vector<int32_t>& prompt, const std::vector<int32_t>& gen,
                     size_t steps) {
  StepLogits r;
  cache.add_sequence(seq);
  r.logits = m.prefill(cache, seq, prompt);
  for (size_t s = 0; s < steps; ++s) {
    const auto l =
        m.decode(cache, std::span<const SeqId>(&seq, 1), std::span<const int32_t>(&gen[s], 1));
    r.logits.insert(r.logits.end(), l.begin(), l.end());
  }
  return r;
}

// Scrambles every group's free queue so later allocations come in a random order.
void shuffle_pool(KvCache& cache, Rng& rng) {
  for (int32_t g = 0; g < cache.num_groups(); ++g) {
    BlockAllocator& a = cache.allocator(g);
    std::vector<int32_t> ids = a.allocate(a.available());
    std::shuffle(ids.begin(), ids.end(), rng.engine());
    for (int32_t id : ids) a.release(id);
  }
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class PagedModel : public testing::TestWithParam<const char*> {};

TEST_P(PagedModel, ShuffledBlockTablesGiveIdenticalLogits) {
  Rng rng(seed_from_env(11));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const std::string dir = str_cat("testdata/", GetParam());
  const HfFixture fx = load_hf_fixture(dir);
  const CausalLm m = CausalLm::load(dir);
  const size_t steps = fx.generated[2].size() - 1;
  KvCache identity(m.kv_cache_config(kPoolBlocks, kBlockSize));
  const StepLogits a = run_alone(m, identity, 1, fx.prompts[2], fx.generated[2], steps);
  KvCache shuffled(m.kv_cache_config(kPoolBlocks, kBlockSize));
  shuffle_pool(shuffled, rng);
  const StepLogits b = run_alone(m, shuffled, 1, fx.prompts[2], fx.generated[2], steps);
  // The tables really differ: the shuffled one is not 0, 1, 2, ...
  bool differs = false;
  for (int32_t g = 0; g < shuffled.num_groups(); ++g)
    differs |= shuffled.table(g, 1).blocks() != identity.table(g, 1).blocks();
  EXPECT_TRUE(differs);
  EXPECT_TRUE(bit_equal(a.logits, b.logits));
}

TEST_P(PagedModel, SharedPrefixGivesIdenticalLogits) {
  const std::string dir = str_cat("testdata/", GetParam());
  const HfFixture fx = load_hf_fixture(dir);
  const CausalLm m = CausalLm::load(dir);
  const auto& prompt = fx.prompts[1];
  const auto& gen = fx.generated[1];
  const size_t steps = gen.size() - 1;
  KvCache alone_cache(m.kv_cache_config(kPoolBlocks, kBlockSize));
  const StepLogits alone = run_alone(m, alone_cache, 1, prompt, gen, steps);
  const int64_t V = m.config().vocab_size;
  const std::vector<float> decode_rows(alone.logits.end() - int64_t(steps) * V, alone.logits.end());

  // Parent prefills, child forks (sharing every block, the partial tail included), then both
  // decode the same tokens: each write to a shared block copies it first.
  KvCache cache(m.kv_cache_config(kPoolBlocks, kBlockSize));
  cache.add_sequence(1);
  m.prefill(cache, 1, prompt);
  cache.fork(1, 2);
  std::vector<float> parent, child;
  for (size_t s = 0; s < steps; ++s) {
    for (SeqId seq : {SeqId(2), SeqId(1)}) {
      const auto l =
          m.decode(cache, std::span<const SeqId>(&seq, 1), std::span<const int32_t>(&gen[s], 1));
      auto& dst = seq == 1 ? parent : child;
      dst.insert(dst.end(), l.begin(), l.end());
    }
  }
  EXPECT_TRUE(bit_equal(parent, decode_rows));
  EXPECT_TRUE(bit_equal(child, decode_rows));
  cache.check_invariants();
}

TEST_P(PagedModel, BatchOfDifferentLengthsEqualsEachAlone) {
  const std::string dir = str_cat("testdata/", GetParam());
  const HfFixture fx = load_hf_fixture(dir);
  const CausalLm m = CausalLm::load(dir);
  const int64_t V = m.config().vocab_size;
  const size_t n = fx.prompts.size();
  const size_t steps = fx.generated[0].size() - 1;
  std::vector<std::vector<float>> alone(n);
  for (size_t i = 0; i < n; ++i) {
    KvCache c(m.kv_cache_config(kPoolBlocks, kBlockSize));
    const StepLogits r = run_alone(m, c, SeqId(i), fx.prompts[i], fx.generated[i], steps);
    alone[i].assign(r.logits.end() - int64_t(steps) * V, r.logits.end());
  }
  KvCache cache(m.kv_cache_config(kPoolBlocks * 2, kBlockSize));
  std::vector<SeqId> seqs;
  for (size_t i = 0; i < n; ++i) {
    seqs.push_back(SeqId(100 + i));
    cache.add_sequence(seqs.back());
    m.prefill(cache, seqs.back(), fx.prompts[i]);
  }
  std::vector<std::vector<float>> batched(n);
  for (size_t s = 0; s < steps; ++s) {
    std::vector<int32_t> tokens;
    for (size_t i = 0; i < n; ++i) tokens.push_back(fx.generated[i][s]);
    const auto l = m.decode(cache, seqs, tokens);  // [n, V]
    for (size_t i = 0; i < n; ++i)
      batched[i].insert(batched[i].end(), l.begin() + i * V, l.begin() + (i + 1) * V);
  }
  for (size_t i = 0; i < n; ++i) {
    SCOPED_TRACE(str_cat("sequence ", i));
    EXPECT_TRUE(bit_equal(batched[i], alone[i]));  // rows are independent: same bits
  }
}

// A prompt prefilled in two pieces (the first as a prefix-cache hit would leave it) gives HF's
// logits: the second piece attends to the first piece's blocks in place.
TEST_P(PagedModel, PrefillInTwoPiecesMatchesHf) {
  const std::string dir = str_cat("testdata/", GetParam());
  const HfFixture fx = load_hf_fixture(dir);
  const CausalLm m = CausalLm::load(dir);
  const int64_t V = m.config().vocab_size;
  const auto& prompt = fx.prompts[2];
  for (size_t split : {size_t(1), size_t(5), size_t(12), prompt.size() - 1}) {
    SCOPED_TRACE(str_cat("split ", split));
    KvCache cache(m.kv_cache_config(kPoolBlocks, kBlockSize));
    cache.add_sequence(3);
    std::vector<float> rows = m.prefill(cache, 3, std::span<const int32_t>(prompt.data(), split));
    const auto rest =
        m.prefill(cache, 3, std::span<const int32_t>(prompt.data() + split, prompt.size() - split));
    rows.insert(rows.end(), rest.begin(), rest.end());
    for (size_t t = 0; t < prompt.size(); ++t)
      EXPECT_LE(relative_error({rows.data() + t * V, size_t(V)},
                               {fx.logits[2].data() + t * V, size_t(V)}),
                1e-4)
          << "row " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, PagedModel,
                         testing::Values("llama3", "qwen3", "gemma3", "llama4"));

// Gemma 3's sliding layers (W = 8) keep at most ceil(W / bs) + 1 blocks per sequence while the
// sequence grows far past the window; its global layer keeps every block.
TEST(PagedModelGemma3, SlidingLayersHoldBoundedBlocks) {
  const CausalLm m = CausalLm::load("testdata/gemma3");
  const HfFixture fx = load_hf_fixture("testdata/gemma3");
  int32_t W = 0;
  for (const auto& l : m.config().layers)
    if (l.attention.kind == AttentionKind::kSliding) W = l.attention.window;
  ASSERT_GT(W, 0);
  const int64_t bound = (W + kBlockSize - 1) / kBlockSize + 1;
  KvCache cache(m.kv_cache_config(kPoolBlocks, kBlockSize));
  cache.add_sequence(5);
  const auto& prompt = fx.prompts[0];
  const auto& gen = fx.generated[0];
  m.prefill(cache, 5, prompt);
  int32_t sliding_groups = 0;
  for (size_t s = 0; s + 1 < gen.size(); ++s) {
    const SeqId seq = 5;
    m.decode(cache, std::span<const SeqId>(&seq, 1), std::span<const int32_t>(&gen[s], 1));
    const int64_t len = cache.num_tokens(5);
    sliding_groups = 0;
    for (int32_t g = 0; g < cache.num_groups(); ++g) {
      const BlockTable& t = cache.table(g, 5);
      if (cache.group_spec(g).rule.kind == AttentionKind::kSliding) {
        ++sliding_groups;
        EXPECT_LE(int64_t(t.blocks().size()), bound) << "at length " << len;
        EXPECT_LE(cache.allocator(g).num_used(), bound);
      } else {
        EXPECT_EQ(int64_t(t.blocks().size()), (len + kBlockSize - 1) / kBlockSize);
      }
    }
  }
  EXPECT_EQ(sliding_groups, 1);
  EXPECT_GT(cache.num_tokens(5), 2 * W);  // really generated past the window
}

// K/V stored in bf16 (the pool dtype of real deployments): logits stay near HF's f32 ones.
TEST(PagedModelBf16Kv, LogitsTrackHf) {
  for (const char* family : {"llama3", "gemma3", "llama4"}) {
    SCOPED_TRACE(family);
    const std::string dir = str_cat("testdata/", family);
    const CausalLm m = CausalLm::load(dir);
    const HfFixture fx = load_hf_fixture(dir);
    KvCache cache(m.kv_cache_config(kPoolBlocks, kBlockSize, DType::kBF16));
    const auto rows = run_alone(m, cache, 1, fx.prompts[2], fx.generated[2], 10).logits;
    const int64_t V = m.config().vocab_size;
    double worst = 0;
    for (size_t t = 0; t < rows.size() / V; ++t)
      worst = std::max(worst, relative_error({rows.data() + t * V, size_t(V)},
                                             {fx.logits[2].data() + t * V, size_t(V)}));
    EXPECT_LE(worst, 2e-2);
    EXPECT_GT(worst, 1e-6);  // the K/V really were rounded
  }
}

// A batch that does not fit the pool fails as a whole and leaves the cache untouched.
TEST(PagedModelErrors, DecodeBatchThatDoesNotFitChangesNothing) {
  const CausalLm m = CausalLm::load("testdata/llama3");
  KvCache cache(m.kv_cache_config(4, kBlockSize));  // 4 blocks of 4 tokens
  const std::vector<int32_t> a = {1, 2, 3, 4, 5, 6, 7, 8}, b = {9, 10, 11, 12, 13, 14, 15, 16};
  cache.add_sequence(1);
  cache.add_sequence(2);
  m.prefill(cache, 1, a);  // 2 blocks, full
  m.prefill(cache, 2, b);  // 2 blocks, full: the pool is exhausted
  const std::string before = cache.debug_string();
  const std::vector<SeqId> seqs = {1, 2};
  const std::vector<int32_t> next = {3, 4};
  try {
    m.decode(cache, seqs, next);
    FAIL() << "decode did not fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kOutOfMemory) << e.what();
  }
  EXPECT_EQ(cache.debug_string(), before);
  EXPECT_THROW(m.decode(cache, std::vector<SeqId>{1, 1}, next), Error);       // duplicate sequence
  EXPECT_THROW(m.decode(cache, seqs, std::vector<int32_t>{3, 9999}), Error);  // token outside vocab
  EXPECT_THROW(m.prefill(cache, 7, a), Error);                                // unknown sequence
  EXPECT_EQ(cache.debug_string(), before);
}

// Llama 4's chunked layers (C = 8) release the blocks before the current chunk: at most
// ceil(C / bs) + 1 blocks per sequence; its NoPE full-attention layer keeps every block.
TEST(PagedModelLlama4, ChunkedLayersHoldBoundedBlocks) {
  const CausalLm m = CausalLm::load("testdata/llama4");
  const HfFixture fx = load_hf_fixture("testdata/llama4");
  int32_t C = 0;
  for (const auto& l : m.config().layers)
    if (l.attention.kind == AttentionKind::kChunked) C = l.attention.chunk;
  ASSERT_GT(C, 0);
  const int64_t bound = (C + kBlockSize - 1) / kBlockSize + 1;
  KvCache cache(m.kv_cache_config(kPoolBlocks, kBlockSize));
  cache.add_sequence(5);
  const auto& gen = fx.generated[1];
  m.prefill(cache, 5, fx.prompts[1]);
  for (size_t s = 0; s + 1 < gen.size(); ++s) {
    const SeqId seq = 5;
    m.decode(cache, std::span<const SeqId>(&seq, 1), std::span<const int32_t>(&gen[s], 1));
    const int64_t len = cache.num_tokens(5);
    for (int32_t g = 0; g < cache.num_groups(); ++g) {
      const BlockTable& t = cache.table(g, 5);
      if (cache.group_spec(g).rule.kind == AttentionKind::kChunked) {
        EXPECT_LE(int64_t(t.blocks().size()), bound) << "at length " << len;
        EXPECT_EQ(t.num_released() * kBlockSize, ((len - 1) / C) * C / kBlockSize * kBlockSize)
            << "at length " << len;
      } else {
        EXPECT_EQ(int64_t(t.blocks().size()), (len + kBlockSize - 1) / kBlockSize);
      }
    }
  }
  EXPECT_GT(cache.num_tokens(5), 3 * C);
}

}  // namespace
}  // namespace pagedkv
