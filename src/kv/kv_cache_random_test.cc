// Randomized test of the KV cache: >= 100,000 mixed operations (append, decode with window
// slides, write with copy-on-write, fork, release, budgets, bad input) over many sequences. After
// every step the invariant checker runs and every sequence's visible K/V, read through its page
// list and the layer views, must equal a shadow copy kept by the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "kv/kv_cache.h"

namespace pagedkv {
namespace {

constexpr int kHeadElems = 2;
constexpr size_t kMaxSeqs = 10;  // Hkv = 1, D = 2: small so 100k checked steps take seconds

struct ShadowSeq {
  int64_t len = 0;
  std::vector<std::vector<float>> kv;  // [layer][pos * 2 * kHeadElems]: K then V of each token
};

class RandomKvTest {
 public:
  RandomKvTest(uint64_t seed, int32_t bs) : rng_(seed), bs_(bs) {
    window_ = rng_.uniform_int(1, 9);
    chunk_ = rng_.uniform_int(1, 8);
    KvCacheConfig config;
    // Layers 0, 3 full (bf16), 1 sliding (f32), 2 chunked (f16).
    config.groups.push_back(
        {{AttentionRule::full(), {0, 3}}, {2, 64 / bs, bs, 1, 2, DType::kBF16}, -1});
    config.groups.push_back(
        {{AttentionRule::sliding(window_), {1}}, {1, 48 / bs, bs, 1, 2, DType::kF32}, -1});
    config.groups.push_back(
        {{AttentionRule::chunked(chunk_), {2}}, {1, 48 / bs, bs, 1, 2, DType::kF16}, -1});
    cache_ = std::make_unique<KvCache>(std::move(config));
  }

  void run(int64_t steps) {
    for (int64_t step = 0; step < steps; ++step) {
      SCOPED_TRACE(str_cat("step=", step));
      one_step();
      cache_->check_invariants();
      check_all_visible();
      if (::testing::Test::HasFailure()) return;
    }
    EXPECT_GT(stats_.appends, steps / 10);
    EXPECT_GT(stats_.forks, steps / 50);
    EXPECT_GT(stats_.cow_writes, 10);
    EXPECT_GT(stats_.failed_appends, 10);
    EXPECT_GT(stats_.slides, 100);
  }

 private:
  struct Stats {
    int64_t appends = 0, forks = 0, cow_writes = 0, failed_appends = 0, slides = 0;
  };

  SeqId pick() {
    auto it = seqs_.begin();
    std::advance(it, rng_.uniform_int(0, int64_t(seqs_.size()) - 1));
    return it->first;
  }

  DType dtype_of(int32_t layer) const {
    return cache_->geometry(cache_->group_of_layer(layer)).dtype;
  }

  void write_token(SeqId id, int32_t layer, int64_t pos) {
    float kv[2 * kHeadElems];
    for (float& x : kv) x = rng_.normal(0.f, 4.f);
    cache_->write(id, layer, pos, kv, kv + kHeadElems);
    std::vector<float>& s = seqs_[id].kv[layer];
    for (int i = 0; i < 2 * kHeadElems; ++i)
      s[pos * 2 * kHeadElems + i] = round_through(dtype_of(layer), kv[i]);
  }

  void append(SeqId id, int64_t n) {
    const bool can = cache_->can_append(id, n);
    const std::vector<int64_t> released_before = released(id);
    if (!can) {
      const std::string before = cache_->debug_string();
      EXPECT_THROW(cache_->append(id, n), Error);
      EXPECT_EQ(cache_->debug_string(), before);
      ++stats_.failed_appends;
      return;
    }
    const int64_t first = cache_->append(id, n);
    ShadowSeq& s = seqs_[id];
    EXPECT_EQ(first, s.len);
    s.len += n;
    for (auto& layer : s.kv) layer.resize(s.len * 2 * kHeadElems);
    for (int64_t pos = first; pos < s.len; ++pos)
      for (int32_t layer = 0; layer < cache_->num_layers(); ++layer) write_token(id, layer, pos);
    if (released(id) != released_before) ++stats_.slides;
    ++stats_.appends;
  }

  std::vector<int64_t> released(SeqId id) const {
    std::vector<int64_t> r;
    for (int32_t g = 0; g < cache_->num_groups(); ++g)
      r.push_back(cache_->table(g, id).num_released());
    return r;
  }

  void one_step() {
    const int64_t op = rng_.uniform_int(0, 99);
    if (seqs_.empty() || op < 5) {
      if (seqs_.size() < kMaxSeqs) {
        cache_->add_sequence(next_id_);
        seqs_[next_id_].kv.resize(cache_->num_layers());
        ++next_id_;
      }
      return;
    }
    const SeqId id = pick();
    if (op < 30) {
      append(id, rng_.uniform_int(1, 4 * bs_));
    } else if (op < 55) {
      append(id, 1);  // decode: windows slide one token at a time
    } else if (op < 70) {
      if (seqs_[id].len == 0) return;
      const int32_t layer = int32_t(rng_.uniform_int(0, cache_->num_layers() - 1));
      const int32_t g = cache_->group_of_layer(layer);
      const BlockTable& t = cache_->table(g, id);
      const int64_t lo = t.num_released() * bs_;
      const int64_t pos = rng_.uniform_int(lo, seqs_[id].len - 1);
      const int32_t before = t.locate(pos).block;
      const bool shared = cache_->allocator(g).ref_count(before) > 1;
      if (shared && cache_->allocator(g).available() == 0) {
        const std::string snap = cache_->debug_string();
        EXPECT_THROW(write_token(id, layer, pos), Error);
        EXPECT_EQ(cache_->debug_string(), snap);
        return;
      }
      write_token(id, layer, pos);
      EXPECT_EQ(cache_->table(g, id).locate(pos).block != before, shared);
      stats_.cow_writes += shared;
    } else if (op < 80) {
      if (seqs_.size() >= kMaxSeqs) return;
      cache_->fork(id, next_id_);
      seqs_[next_id_] = seqs_[id];
      ++next_id_;
      ++stats_.forks;
    } else if (op < 88) {
      cache_->release(id);
      seqs_.erase(id);
    } else if (op < 92) {
      const int32_t g = int32_t(rng_.uniform_int(0, cache_->num_groups() - 1));
      BlockAllocator& a = cache_->allocator(g);
      a.set_budget(rng_.bernoulli(0.5) ? BlockAllocator::kNone
                                       : int32_t(rng_.uniform_int(a.num_used(), a.num_blocks())));
    } else {
      // Bad input: a write past the end or into a released block must fail and change nothing.
      const std::string snap = cache_->debug_string();
      const float kv[2 * kHeadElems] = {1, 2, 3, 4};
      const int64_t pos = seqs_[id].len + rng_.uniform_int(0, 3);
      EXPECT_THROW(cache_->write(id, 0, pos, kv, kv + kHeadElems), Error);
      if (cache_->table(1, id).num_released() > 0) {
        EXPECT_THROW(cache_->write(id, 1, 0, kv, kv + kHeadElems), Error);
      }
      EXPECT_THROW(cache_->append(id, rng_.uniform_int(-2, 0)), Error);
      EXPECT_EQ(cache_->debug_string(), snap);
    }
  }

  // Independent statement of DESIGN §3's visible ranges.
  int64_t expected_begin(int32_t g, int64_t len) const {
    if (g == 0) return 0;
    if (g == 1) return std::max<int64_t>(0, len - window_);
    return ((len - 1) / chunk_) * chunk_;
  }

  void check_all_visible() {
    std::vector<SeqId> batch;
    for (const auto& [id, s] : seqs_)
      if (s.len > 0) batch.push_back(id);
    if (batch.empty()) return;
    for (int32_t g = 0; g < cache_->num_groups(); ++g) {
      const PageList pl = cache_->page_list(g, batch);
      for (int32_t layer : cache_->group_spec(g).layers) {
        const KvLayerView view = cache_->layer_view(layer);
        for (size_t b = 0; b < batch.size(); ++b) {
          const ShadowSeq& s = seqs_.at(batch[b]);
          const int64_t begin = expected_begin(g, s.len);
          ASSERT_EQ(pl.visible_len[b], s.len - begin);
          ASSERT_EQ(pl.first_offset[b], begin % bs_);
          ASSERT_EQ(pl.indptr[b + 1] - pl.indptr[b], (s.len - 1) / bs_ - begin / bs_ + 1);
          for (int64_t t = 0; t < pl.visible_len[b]; ++t) {
            const int64_t off = pl.first_offset[b] + t;
            const int64_t block = pl.indices[pl.indptr[b] + off / bs_];
            const size_t at = size_t(block * view.stride_block + (off % bs_) * view.stride_token);
            const float* want = &s.kv[layer][(begin + t) * 2 * kHeadElems];
            for (int i = 0; i < kHeadElems; ++i) {
              ASSERT_EQ(load_as_f32(view.k, view.dtype, at + i), want[i])
                  << "seq " << batch[b] << " layer " << layer << " pos " << begin + t;
              ASSERT_EQ(load_as_f32(view.v, view.dtype, at + i), want[kHeadElems + i])
                  << "seq " << batch[b] << " layer " << layer << " pos " << begin + t;
            }
          }
        }
      }
    }
  }

  Rng rng_;
  int32_t bs_;
  int64_t window_ = 0, chunk_ = 0;
  std::unique_ptr<KvCache> cache_;
  std::map<SeqId, ShadowSeq> seqs_;
  SeqId next_id_ = 0;
  Stats stats_;
};

class KvCacheRandomTest : public ::testing::TestWithParam<int32_t> {};

TEST_P(KvCacheRandomTest, ShadowAgreesThroughout) {
  const uint64_t seed = seed_from_env(2024 + GetParam());
  SCOPED_TRACE(str_cat("seed=", seed, " block_size=", GetParam()));
  RandomKvTest test(seed, GetParam());
  test.run(GetParam() == 2 ? 100000 : 20000);  // 100k at bs = 2, shorter runs at bs 1 and 4
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, KvCacheRandomTest, ::testing::Values(1, 2, 4));

}  // namespace
}  // namespace pagedkv
