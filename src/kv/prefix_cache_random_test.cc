// Randomized test of the prefix cache: >= 100,000 operations (admissions with lookups and hits,
// decode steps that publish blocks, forks, copy-on-write rewrites, releases, evictions, resets)
// over full, sliding and chunked groups. Every token's K/V is a function of its whole prefix
// (token ids and namespace), so a wrong hit, a stale cached block or a lost write shows up as a
// mismatch when every sequence's visible K/V is read back through its page list after each step.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "kv/kv_cache.h"

namespace pagedkv {
namespace {

constexpr size_t kMaxSeqs = 8;

uint64_t mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ull;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dull;
  return x ^ (x >> 33);
}

struct Shadow {
  std::vector<int32_t> tokens;
  std::vector<uint64_t> prefix;  // [pos]: independent hash of tokens[0..pos] and the namespace
  uint64_t ns = 0;
  void push(int32_t t) {
    tokens.push_back(t);
    prefix.push_back(mix((prefix.empty() ? ns * 0x9e37u + 1 : prefix.back()) ^ uint64_t(t + 7)));
  }
};

// K/V of a token: small integers, exact in bf16 and f16.
void token_kv(uint64_t prefix_hash, int32_t layer, float* k, float* v) {
  const uint64_t h = mix(prefix_hash + uint64_t(layer) * 0x1234567ull);
  k[0] = float(h & 0xff), k[1] = float((h >> 8) & 0xff);
  v[0] = float((h >> 16) & 0xff), v[1] = float((h >> 24) & 0xff);
}

class RandomPrefixTest {
 public:
  RandomPrefixTest(uint64_t seed, int32_t bs) : rng_(seed), bs_(bs) {
    window_ = rng_.uniform_int(2, 9);
    chunk_ = rng_.uniform_int(2, 8);
    KvCacheConfig c;
    c.groups.push_back({{AttentionRule::full(), {0}}, {1, 96 / bs, bs, 1, 2, DType::kBF16}, -1});
    c.groups.push_back(
        {{AttentionRule::sliding(window_), {1}}, {1, 64 / bs, bs, 1, 2, DType::kF32}, -1});
    c.groups.push_back(
        {{AttentionRule::chunked(chunk_), {2}}, {1, 64 / bs, bs, 1, 2, DType::kF16}, -1});
    c.enable_prefix_cache = true;
    cache_ = std::make_unique<KvCache>(std::move(c));
    for (auto& base : bases_)
      for (int i = 0; i < 24; ++i) base.push_back(int32_t(rng_.uniform_int(0, 50)));
  }

  void run(int64_t steps) {
    for (int64_t step = 0; step < steps; ++step) {
      SCOPED_TRACE(str_cat("step=", step));
      one_step();
      cache_->check_invariants();
      check_all_visible();
      if (::testing::Test::HasFailure()) return;
    }
    const PrefixCacheMetrics m = cache_->prefix_metrics();
    EXPECT_GT(m.hits, steps / 100);
    EXPECT_GT(m.hit_tokens, steps / 20);
    EXPECT_GT(m.evictions, steps / 100);
    EXPECT_GT(m.resets, 5);
    EXPECT_GT(failed_, 10);
    std::printf(
        "prefix random test: %lld admissions with %lld hits (%lld tokens), %lld evictions, "
        "%lld resets, %lld failed allocations\n",
        (long long)m.queries, (long long)m.hits, (long long)m.hit_tokens, (long long)m.evictions,
        (long long)m.resets, (long long)failed_);
  }

 private:
  Shadow make_prompt() {
    Shadow s;
    s.ns = rng_.bernoulli(0.1) ? 5 : 0;
    const auto& base = bases_[rng_.uniform_int(0, 3)];
    const int64_t keep = rng_.uniform_int(1, 24), extra = rng_.uniform_int(0, 6);
    for (int64_t i = 0; i < keep; ++i) s.push(base[i]);
    for (int64_t i = 0; i < extra; ++i) s.push(int32_t(rng_.uniform_int(0, 3)));
    return s;
  }

  void write(SeqId id, int32_t layer, int64_t pos) {
    float k[2], v[2];
    token_kv(seqs_.at(id).prefix[pos], layer, k, v);
    cache_->write(id, layer, pos, k, v);
  }

  SeqId pick() {
    auto it = seqs_.begin();
    std::advance(it, rng_.uniform_int(0, int64_t(seqs_.size()) - 1));
    return it->first;
  }

  void admit() {
    Shadow s = make_prompt();
    const int64_t len = int64_t(s.tokens.size());
    const std::string before = cache_->debug_string();
    const PrefixHit predicted = cache_->lookup(s.tokens, s.ns);
    int64_t hit = 0;
    try {
      hit = cache_->add_prompt(next_id_, s.tokens, s.ns);
    } catch (const Error& e) {
      ASSERT_EQ(e.kind(), ErrorKind::kOutOfMemory) << e.what();
      ASSERT_EQ(cache_->debug_string(), before);
      ++failed_;
      return;
    }
    ASSERT_EQ(hit, predicted.num_tokens);
    ASSERT_EQ(hit % bs_, 0);
    ASSERT_LE(hit, len - 1);
    const SeqId id = next_id_++;
    seqs_[id] = s;
    for (int64_t pos = hit; pos < len; ++pos)
      for (int32_t layer = 0; layer < 3; ++layer) write(id, layer, pos);
    cache_->cache_full_blocks(id);
  }

  void decode(SeqId id) {
    const int32_t token = int32_t(rng_.uniform_int(0, 3));
    const int32_t tok[1] = {token};
    if (!cache_->can_append(id, 1)) {
      const std::string before = cache_->debug_string();
      EXPECT_THROW(cache_->append_tokens(id, tok), Error);
      EXPECT_EQ(cache_->debug_string(), before);
      ++failed_;
      return;
    }
    const int64_t pos = cache_->append_tokens(id, tok);
    seqs_[id].push(token);
    for (int32_t layer = 0; layer < 3; ++layer) write(id, layer, pos);
    cache_->cache_full_blocks(id);
  }

  void one_step() {
    const int64_t op = rng_.uniform_int(0, 99);
    if (seqs_.empty() || op < 20) {
      if (seqs_.size() < kMaxSeqs) admit();
      return;
    }
    const SeqId id = pick();
    if (op < 55) {
      decode(id);
    } else if (op < 63) {
      if (seqs_.size() >= kMaxSeqs) return;
      cache_->fork(id, next_id_);
      seqs_[next_id_++] = seqs_[id];
    } else if (op < 80) {
      cache_->release(id);
      seqs_.erase(id);
    } else if (op < 87) {
      // Rewrite a held position with its own values: copy-on-write if shared, unpublish if cached.
      const int32_t layer = int32_t(rng_.uniform_int(0, 2));
      const BlockTable& t = cache_->table(layer, id);
      const int64_t pos = rng_.uniform_int(t.num_released() * bs_, t.num_tokens() - 1);
      const int32_t block = t.locate(pos).block;
      if (cache_->allocator(layer).ref_count(block) > 1 &&
          cache_->allocator(layer).available() == 0) {
        const std::string before = cache_->debug_string();
        EXPECT_THROW(write(id, layer, pos), Error);
        EXPECT_EQ(cache_->debug_string(), before);
        return;
      }
      write(id, layer, pos);
    } else if (op < 95) {
      const Shadow s = make_prompt();
      const PrefixHit hit = cache_->lookup(s.tokens, s.ns);
      ASSERT_EQ(hit.num_tokens % bs_, 0);
      ASSERT_LE(hit.num_tokens, int64_t(s.tokens.size()) - 1);
      for (int32_t g = 0; g < 3; ++g)
        ASSERT_EQ(int64_t(hit.blocks[g].size()), hit.num_tokens / bs_ - hit.released[g]);
    } else if (op < 98) {
      const bool in_use = cache_->metrics(0).used_blocks + cache_->metrics(1).used_blocks +
                              cache_->metrics(2).used_blocks >
                          0;
      const std::string before = cache_->debug_string();
      if (in_use) {
        EXPECT_THROW(cache_->reset_prefix_cache(), Error);
        EXPECT_EQ(cache_->debug_string(), before);
      } else {
        cache_->reset_prefix_cache();
      }
    } else {
      for (const auto& [sid, s] : seqs_) cache_->release(sid);  // drain, then reset
      seqs_.clear();
      cache_->reset_prefix_cache();
      EXPECT_EQ(cache_->prefix_metrics().cached_blocks, 0);
    }
  }

  void check_all_visible() {
    std::vector<SeqId> batch;
    for (const auto& [id, s] : seqs_) batch.push_back(id);
    if (batch.empty()) return;
    for (int32_t g = 0; g < 3; ++g) {
      const PageList pl = cache_->page_list(g, batch);
      const KvLayerView view = cache_->layer_view(g);  // layer g is group g's only layer
      for (size_t b = 0; b < batch.size(); ++b) {
        const Shadow& s = seqs_.at(batch[b]);
        const int64_t len = int64_t(s.tokens.size());
        ASSERT_EQ(cache_->num_tokens(batch[b]), len);
        const int64_t begin = len - pl.visible_len[b];
        for (int64_t t = 0; t < pl.visible_len[b]; ++t) {
          const int64_t off = pl.first_offset[b] + t;
          const int64_t block = pl.indices[pl.indptr[b] + off / bs_];
          const size_t at = size_t(block * view.stride_block + (off % bs_) * view.stride_token);
          float k[2], v[2];
          token_kv(s.prefix[begin + t], g, k, v);
          for (int i = 0; i < 2; ++i) {
            ASSERT_EQ(load_as_f32(view.k, view.dtype, at + i), k[i])
                << "seq " << batch[b] << " group " << g << " pos " << begin + t;
            ASSERT_EQ(load_as_f32(view.v, view.dtype, at + i), v[i])
                << "seq " << batch[b] << " group " << g << " pos " << begin + t;
          }
        }
      }
    }
  }

  Rng rng_;
  int32_t bs_;
  int64_t window_ = 0, chunk_ = 0;
  std::vector<int32_t> bases_[4];
  std::unique_ptr<KvCache> cache_;
  std::map<SeqId, Shadow> seqs_;
  SeqId next_id_ = 0;
  int64_t failed_ = 0;
};

class PrefixCacheRandomTest : public ::testing::TestWithParam<int32_t> {};

TEST_P(PrefixCacheRandomTest, ShadowAgreesThroughout) {
  const uint64_t seed = seed_from_env(4242 + GetParam());
  SCOPED_TRACE(str_cat("seed=", seed, " block_size=", GetParam()));
  RandomPrefixTest test(seed, GetParam());
  test.run(GetParam() == 2 ? 100000 : 30000);  // 100k at bs = 2, a shorter run at bs = 4
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, PrefixCacheRandomTest, ::testing::Values(2, 4));

}  // namespace
}  // namespace pagedkv
