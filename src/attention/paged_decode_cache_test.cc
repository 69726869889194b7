// End to end with the KV cache (issue 3): sequences built through the block-table API — forks,
// copy-on-write of shared tails, sliding windows that release blocks, chunk boundaries — are
// attended through the page lists the cache produces and compared with an f64 softmax over a
// shadow copy of every token's K/V (kept here, outside the cache).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "attention/decode_gather.h"
#include "attention/decode_reference.h"
#include "attention/paged_decode_cpu.h"
#include "attention/testing/decode_problem.h"
#include "core/error.h"
#include "core/random.h"
#include "kv/kv_cache.h"

namespace pagedkv {
namespace {

constexpr int32_t kHkv = 2, kHq = 8, kD = 64;

struct Shadow {
  // [seq][layer][pos] -> K and V of the token, [Hkv * D] as stored (rounded to the pool dtype).
  std::map<SeqId, std::vector<std::vector<std::vector<float>>>> k, v;
};

class CacheHarness {
 public:
  CacheHarness(int32_t block_size, DType dtype, Rng& rng)
      : dtype_(dtype),
        rng_(rng),
        cache_(KvCacheConfig::uniform({{AttentionRule::full(), {0}},
                                       {AttentionRule::sliding(37), {1}},
                                       {AttentionRule::chunked(50), {2}}},
                                      /*num_blocks=*/600, block_size, kHkv, kD, dtype)) {}

  KvCache& cache() { return cache_; }

  void add(SeqId s) {
    cache_.add_sequence(s);
    shadow_.k[s].assign(3, {});
    shadow_.v[s].assign(3, {});
  }
  void fork(SeqId parent, SeqId child) {
    cache_.fork(parent, child);
    shadow_.k[child] = shadow_.k[parent];
    shadow_.v[child] = shadow_.v[parent];
  }
  // Append n tokens to s and write random K/V for them in every layer.
  void grow(SeqId s, int32_t n) {
    const int64_t first = cache_.append(s, n);
    for (int64_t pos = first; pos < first + n; ++pos) {
      for (int32_t layer = 0; layer < 3; ++layer) {
        std::vector<float> k(kHkv * kD), v(kHkv * kD);
        for (float& x : k) x = rng_.normal();
        for (float& x : v) x = rng_.normal();
        cache_.write(s, layer, pos, k.data(), v.data());
        for (float& x : k) x = round_through(dtype_, x);
        for (float& x : v) x = round_through(dtype_, x);
        shadow_.k[s][layer].push_back(k);
        shadow_.v[s][layer].push_back(v);
      }
    }
  }

  // Attend every sequence in every layer through the cache's page lists; compare with the shadow.
  void check_all(const std::vector<SeqId>& seqs) {
    cache_.check_invariants();
    const int32_t B = int32_t(seqs.size());
    std::vector<float> q(size_t(B) * kHq * kD);
    for (float& x : q) x = rng_.normal();
    std::vector<float> sinks(kHq);
    for (float& x : sinks) x = rng_.normal();
    for (int32_t layer = 0; layer < 3; ++layer) {
      SCOPED_TRACE(str_cat("layer ", layer, " (", cache_.group_spec(layer).rule.describe(), ")"));
      const AttentionRule rule = cache_.group_spec(layer).rule;
      const PageList pages = cache_.page_list(cache_.group_of_layer(layer), seqs);
      // Expected: f64 softmax over the shadow's visible positions.
      std::vector<double> expect(size_t(B) * kHq * kD, 0.0);
      for (int32_t b = 0; b < B; ++b) {
        const auto& ks = shadow_.k[seqs[b]][layer];
        const auto& vs = shadow_.v[seqs[b]][layer];
        const int64_t len = int64_t(ks.size());
        const int64_t begin = rule.visible_begin(len);
        ASSERT_EQ(pages.visible_len[b], len - begin);
        for (int32_t h = 0; h < kHq; ++h) {
          const int32_t kvh = h / (kHq / kHkv);
          std::vector<double> w;
          double m = sinks[h];
          for (int64_t pos = begin; pos < len; ++pos) {
            double s = 0;
            for (int32_t d = 0; d < kD; ++d) {
              s += double(q[(size_t(b) * kHq + h) * kD + d]) * ks[pos][kvh * kD + d];
            }
            w.push_back(s / std::sqrt(double(kD)));
            m = std::max(m, w.back());
          }
          double denom = std::exp(double(sinks[h]) - m);
          for (double& x : w) denom += (x = std::exp(x - m));
          for (int32_t d = 0; d < kD; ++d) {
            double o = 0;
            for (int64_t pos = begin; pos < len; ++pos) o += w[pos - begin] * vs[pos][kvh * kD + d];
            expect[(size_t(b) * kHq + h) * kD + d] = o / denom;
          }
        }
      }
      std::vector<float> out(size_t(B) * kHq * kD);
      DecodeParams p;
      p.q = q.data();
      p.q_dtype = DType::kF32;
      p.num_q_heads = kHq;
      p.kv = cache_.layer_view(layer);
      p.pages = pages.view();
      p.scale = 1.0f / std::sqrt(float(kD));
      p.sinks = sinks.data();
      p.out = out.data();
      const auto ref = decode_reference_f64(p);
      double num = 0, den = 0;
      for (size_t i = 0; i < expect.size(); ++i) {
        num += (ref.out[i] - expect[i]) * (ref.out[i] - expect[i]);
        den += expect[i] * expect[i];
      }
      EXPECT_LE(std::sqrt(num / den), 1e-12) << "reference through the page list vs shadow";
      paged_decode_cpu(p);
      EXPECT_LE(testing::relative_error(out.data(), DType::kF32, expect), 1e-5) << "fused";
      decode_gather(p);
      EXPECT_LE(testing::relative_error(out.data(), DType::kF32, expect), 1e-5) << "gather";
    }
  }

 private:
  DType dtype_;
  Rng& rng_;
  KvCache cache_;
  Shadow shadow_;
};

TEST(PagedDecodeWithCache, ForksCopyOnWriteWindowSlidesChunks) {
  Rng rng(seed_from_env(401));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (int32_t bs : {4, 16}) {
    SCOPED_TRACE(str_cat("block_size=", bs));
    CacheHarness h(bs, DType::kBF16, rng);
    h.add(1);
    h.grow(1, 42);  // prompt with a partial last block
    h.check_all({1});
    h.fork(1, 2);  // 2 shares every block of 1
    h.fork(1, 3);
    h.check_all({1, 2, 3});
    h.grow(2, 1);   // copy-on-write of the shared partial tail
    h.grow(3, 30);  // 3 slides its window past the shared prefix, crosses a chunk
    h.grow(1, 5);
    h.check_all({3, 1, 2});
    for (int step = 0; step < 70; ++step) {  // decode steps: windows slide, chunks roll over
      for (SeqId s : {1, 2, 3}) {
        if (rng.bernoulli(0.7)) h.grow(s, 1);
      }
      if (step % 23 == 0) h.check_all({1, 2, 3});
    }
    h.add(4);
    h.grow(4, 1);  // a one-token sequence next to long ones
    h.check_all({2, 4, 1, 3});
  }
}

}  // namespace
}  // namespace pagedkv
