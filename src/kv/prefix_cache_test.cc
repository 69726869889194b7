// Prefix cache: ports of the applicable scenarios of vLLM v1's test_prefix_caching.py and
// test_single_type_kv_cache_manager.py, and SGLang's radix-cache page-alignment cases, with the
// expected block ids and orders written out. Block ids here start at 0 (vLLM reserves 0 for its
// null block, so its ids are ours + 1).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/error.h"
#include "kv/kv_cache.h"

namespace pagedkv {
namespace {

using ::testing::ElementsAre;
using Tokens = std::vector<int32_t>;

KvCacheConfig full_config(int32_t blocks, int32_t bs) {
  KvCacheConfig c =
      KvCacheConfig::uniform({{AttentionRule::full(), {0}}}, blocks, bs, 1, 2, DType::kF32);
  c.enable_prefix_cache = true;
  return c;
}

Tokens cat(Tokens a, const Tokens& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<uint8_t> cat8(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Tokens range(int32_t from, int32_t n) {
  Tokens t(n);
  std::iota(t.begin(), t.end(), from);
  return t;
}

// What a model would do: admit, compute the uncached positions, publish full blocks.
int64_t prefill(KvCache& cache, SeqId seq, const Tokens& prompt, uint64_t ns = 0) {
  const int64_t hit = cache.add_prompt(seq, prompt, ns);
  for (int64_t pos = hit; pos < int64_t(prompt.size()); ++pos)
    for (int32_t layer = 0; layer < cache.num_layers(); ++layer) {
      const float k[2] = {float(prompt[pos]), float(pos)}, v[2] = {float(-pos), 1.0f};
      cache.write(seq, layer, pos, k, v);
    }
  cache.cache_full_blocks(seq);
  cache.check_invariants();
  return hit;
}

void decode(KvCache& cache, SeqId seq, int32_t token) {
  const int64_t pos = cache.append_tokens(seq, Tokens{token});
  for (int32_t layer = 0; layer < cache.num_layers(); ++layer) {
    const float k[2] = {float(token), float(pos)}, v[2] = {float(-pos), 1.0f};
    cache.write(seq, layer, pos, k, v);
  }
  cache.cache_full_blocks(seq);
  cache.check_invariants();
}

const Tokens kCommon = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2};  // 3 full blocks of 4

TEST(PrefixCache, PrefillWithASharedPrefix) {  // vLLM test_prefill
  KvCache cache(full_config(10, 4));
  EXPECT_EQ(prefill(cache, 0, cat(kCommon, {3, 3, 3})), 0);
  EXPECT_THAT(cache.table(0, 0).blocks(), ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(cache.prefix_metrics().cached_blocks, 3);  // the partial block 3 is not cached

  EXPECT_EQ(prefill(cache, 1, cat(kCommon, {5, 5, 5, 5, 5})), 12);
  EXPECT_THAT(cache.table(0, 1).blocks(), ElementsAre(0, 1, 2, 4, 5));
  EXPECT_THAT(
      (std::vector<int32_t>{cache.allocator(0).ref_count(0), cache.allocator(0).ref_count(1),
                            cache.allocator(0).ref_count(2), cache.allocator(0).ref_count(3)}),
      ElementsAre(2, 2, 2, 1));
  PrefixCacheMetrics m = cache.prefix_metrics();
  EXPECT_EQ(m.queries, 2);
  EXPECT_EQ(m.query_tokens, 32);
  EXPECT_EQ(m.hits, 1);
  EXPECT_EQ(m.hit_tokens, 12);
  EXPECT_EQ(m.cached_blocks, 4);  // block 4 (tokens 12-15) filled and was published

  // Freed newest first: the free queue ends with each request's blocks, tail before head.
  cache.release(0);
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(6, 7, 8, 9, 3));
  cache.release(1);
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(6, 7, 8, 9, 3, 5, 4, 2, 1, 0));

  // A hit on freed but cached blocks takes them out of the free queue ("touch").
  EXPECT_EQ(prefill(cache, 2, cat(kCommon, {5, 5, 5, 5, 7, 7})), 16);
  EXPECT_THAT(cache.table(0, 2).blocks(), ElementsAre(0, 1, 2, 4, 6));
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(7, 8, 9, 3, 5));
  // Block 3 held [3, 3, 3] only and was never cached: a different fourth block misses.
  EXPECT_EQ(prefill(cache, 3, cat(kCommon, {3, 3, 3, 3, 1})), 12);
  EXPECT_THAT(cache.table(0, 3).blocks(), ElementsAre(0, 1, 2, 7, 8));
  EXPECT_EQ(cache.prefix_metrics().evictions, 0);
}

TEST(PrefixCache, HitIsCappedSoTheLastTokenIsRecomputed) {
  KvCache cache(full_config(10, 4));
  prefill(cache, 0, cat(kCommon, {9}));
  // The same 12 tokens again: all 3 blocks are cached, but the last token must be computed.
  EXPECT_EQ(cache.lookup(kCommon).num_tokens, 8);
  EXPECT_EQ(prefill(cache, 1, kCommon), 8);
  EXPECT_THAT(cache.table(0, 1).blocks(), ElementsAre(0, 1, 4));
  EXPECT_EQ(cache.lookup(Tokens{0}).num_tokens, 0);
}

TEST(PrefixCache, DecodeFillingAPartialBlockPublishesIt) {  // vLLM test_decode
  KvCache cache(full_config(10, 4));
  prefill(cache, 0, range(1, 6));  // blocks 0 (full) and 1 (2 of 4)
  EXPECT_EQ(cache.prefix_metrics().cached_blocks, 1);
  decode(cache, 0, 7);
  EXPECT_EQ(cache.prefix_metrics().cached_blocks, 1);
  decode(cache, 0, 8);  // block 1 is full now
  EXPECT_EQ(cache.prefix_metrics().cached_blocks, 2);
  EXPECT_EQ(prefill(cache, 1, range(1, 9)), 8);
  EXPECT_THAT(cache.table(0, 1).blocks(), ElementsAre(0, 1, 2));
}

TEST(PrefixCache, EvictionIsLeastRecentlyUsedAndTailFirst) {  // vLLM test_evict
  KvCache cache(full_config(6, 4));
  const Tokens a = range(10, 13);
  prefill(cache, 0, a);  // blocks 0, 1, 2 cached, 3 partial
  cache.release(0);
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(4, 5, 3, 2, 1, 0));
  prefill(cache, 1, range(100, 12));  // takes 4, 5 (never used) and 3 (uncached): no eviction
  EXPECT_THAT(cache.table(0, 1).blocks(), ElementsAre(4, 5, 3));
  EXPECT_EQ(cache.prefix_metrics().evictions, 0);
  prefill(cache, 2, range(200, 3));  // takes 2: the tail of a's chain goes first
  EXPECT_THAT(cache.table(0, 2).blocks(), ElementsAre(2));
  EXPECT_EQ(cache.prefix_metrics().evictions, 1);
  EXPECT_EQ(cache.lookup(a).num_tokens, 8);  // its head (blocks 0, 1) is still cached
  cache.release(1);
  cache.release(2);
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(1, 0, 3, 5, 4, 2));
  EXPECT_EQ(prefill(cache, 3, a), 8);
  EXPECT_THAT(cache.table(0, 3).blocks(), ElementsAre(0, 1, 3, 5));
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(4, 2));
}

TEST(PrefixCache, FailedAllocationWithHitsChangesNoRefCount) {
  KvCache cache(full_config(5, 4));
  const Tokens a = range(1, 9);
  prefill(cache, 0, a);                                // blocks 0, 1 cached, 2 partial; kept in use
  const Tokens big = cat(range(1, 8), range(50, 12));  // 20 tokens: hit 8 + 3 new > 2 free
  const std::string before = cache.debug_string();
  EXPECT_THROW(cache.add_prompt(1, big), Error);
  EXPECT_EQ(cache.debug_string(), before);
  EXPECT_EQ(cache.allocator(0).ref_count(0), 1);
  EXPECT_FALSE(cache.has_sequence(1));
  cache.release(0);
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(3, 4, 2, 1, 0));
  // Cached blocks that are free still count: 2 hits + 4 new > 5.
  const std::string before2 = cache.debug_string();
  try {
    cache.add_prompt(1, cat(range(1, 8), range(50, 16)));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kOutOfMemory);
    EXPECT_NE(std::string(e.what()).find("2 cached but free"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cache.debug_string(), before2);
  EXPECT_EQ(cache.prefix_metrics().queries, 1);  // failed admissions are not counted
  EXPECT_EQ(prefill(cache, 1, big), 8);          // 2 hits + 3 new fit
  EXPECT_THAT(cache.table(0, 1).blocks(), ElementsAre(0, 1, 3, 4, 2));
  EXPECT_EQ(cache.prefix_metrics().evictions, 0);
}

TEST(PrefixCache, ResetIsRefusedWhileBlocksAreInUse) {  // vLLM test_reset_prefix_cache
  KvCache cache(full_config(8, 4));
  prefill(cache, 0, range(1, 9));
  const std::string before = cache.debug_string();
  try {
    cache.reset_prefix_cache();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reset refused"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cache.debug_string(), before);
  cache.release(0);
  cache.reset_prefix_cache();
  EXPECT_EQ(cache.prefix_metrics().cached_blocks, 0);
  EXPECT_EQ(cache.prefix_metrics().resets, 1);
  EXPECT_EQ(cache.prefix_index()->num_nodes(), 0);
  EXPECT_EQ(prefill(cache, 1, range(1, 9)), 0);
  cache.check_invariants();
}

TEST(PrefixCache, NamespaceKeySeparatesIdenticalTokens) {  // vLLM test_cache_key_salting
  KvCache cache(full_config(16, 4));
  const Tokens p = range(1, 13);
  prefill(cache, 0, p, namespace_key("alice"));
  EXPECT_EQ(cache.lookup(p, namespace_key("bob")).num_tokens, 0);
  EXPECT_EQ(cache.lookup(p).num_tokens, 0);
  EXPECT_EQ(cache.lookup(p, namespace_key("alice")).num_tokens, 12);  // 13 tokens: capped at 12
  EXPECT_EQ(prefill(cache, 1, p, namespace_key("bob")), 0);
  EXPECT_EQ(prefill(cache, 2, p, namespace_key("alice")), 12);
  EXPECT_THAT(cache.table(0, 2).blocks(),
              ElementsAre(0, 1, 2, 8));  // seq 0 holds 0-3, seq 1 holds 4-7
  EXPECT_NE(namespace_key("alice"), namespace_key("bob"));
  EXPECT_EQ(namespace_key(""), 0u);
}

// vLLM test_sliding_window_possible_cached_prefix: bs = 2, W = 4, no cap (max = all blocks).
TEST(PrefixCache, SlidingWindowHitLengthsMatchVllm) {
  const AttentionRule rule = AttentionRule::sliding(4);
  auto blocks = [&](std::vector<uint8_t> cached) {
    return longest_hit_tokens(rule, 2, cached, int64_t(cached.size()) * 2) / 2;
  };
  const uint8_t T = 1, F = 0;
  EXPECT_EQ(blocks(std::vector<uint8_t>(10, F)), 0);
  EXPECT_EQ(blocks({T}), 1);
  EXPECT_EQ(blocks({T, F}), 1);
  EXPECT_EQ(blocks({T, T}), 2);
  EXPECT_EQ(blocks({T, T, F}), 2);
  EXPECT_EQ(blocks({T, T, T}), 3);
  EXPECT_EQ(blocks({T, T, T, F}), 3);
  EXPECT_EQ(blocks({T, T, F, T, F, F, T, T, F, T, T, T}), 12);
  EXPECT_EQ(blocks({T, T, F, T, F, F, T, T, F, F, F}), 8);
  EXPECT_EQ(blocks({T, T, F, T, F, F, T, T, F, F, F, T}), 8);
  // The blocks such a hit needs: the last ceil((W - 1) / bs) = 2 before the hit length.
  EXPECT_EQ(rule.hit_blocks(24, 2), (std::pair<int64_t, int64_t>{10, 12}));
  EXPECT_EQ(rule.hit_blocks(2, 2), (std::pair<int64_t, int64_t>{0, 1}));
}

// vLLM test_chunked_local_attention_possible_cached_prefix: bs = 2, C = 4.
TEST(PrefixCache, ChunkedHitLengthsMatchVllm) {
  const AttentionRule rule = AttentionRule::chunked(4);
  auto blocks = [&](std::vector<uint8_t> cached, int tail) {
    return longest_hit_tokens(rule, 2, cached, int64_t(cached.size()) * 2 + tail) / 2;
  };
  const uint8_t T = 1, F = 0;
  for (int tail : {0, 1}) {
    SCOPED_TRACE(tail);
    EXPECT_EQ(blocks({T}, tail), 1);
    EXPECT_EQ(blocks({T, F}, tail), 2);  // a hit at a chunk start needs no block at all
    EXPECT_EQ(blocks({T, T}, tail), 2);
    EXPECT_EQ(blocks({T, T, F}, tail), 2);
    EXPECT_EQ(blocks({T, T, T}, tail), 3);
    EXPECT_EQ(blocks({T, T, T, F}, tail), 4);
    for (uint8_t head : {T, F}) {
      std::vector<uint8_t> c(8, head);
      EXPECT_EQ(blocks(cat8(c, {T, F}), tail), 10);
      EXPECT_EQ(blocks(cat8(c, {F, T}), tail), 10);
      EXPECT_EQ(blocks(cat8(c, {F, F}), tail), 10);
    }
  }
  for (uint8_t head : {T, F}) {
    std::vector<uint8_t> c(8, head);
    EXPECT_EQ(blocks(cat8(c, {T}), 1), 9);
    EXPECT_EQ(blocks(cat8(c, {F}), 1), 8);
    EXPECT_EQ(blocks(cat8(c, {T, T}), 1), 10);
  }
}

TEST(PrefixCache, SlidingGroupHitNeedsOnlyTheWindowsBlocks) {
  KvCacheConfig c =
      KvCacheConfig::uniform({{AttentionRule::sliding(4), {0}}}, 10, 2, 1, 2, DType::kF32);
  c.enable_prefix_cache = true;
  KvCache cache(std::move(c));
  const Tokens a = range(1, 12);
  prefill(cache, 0, a);  // one prefill chunk holds all 6 blocks; all are published
  EXPECT_EQ(cache.prefix_metrics().cached_blocks, 6);
  cache.release(0);
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(6, 7, 8, 9, 5, 4, 3, 2, 1, 0));
  prefill(cache, 1, range(100, 12));  // takes 6, 7, 8, 9 and evicts 5, 4 (a's tail)
  EXPECT_EQ(cache.prefix_metrics().evictions, 2);
  cache.release(1);
  // a + 1 token: blocks 0-3 are cached; a hit of 8 tokens needs positions [5, 8): blocks 2, 3.
  const PrefixHit hit = cache.lookup(cat(a, {99}));
  EXPECT_EQ(hit.num_tokens, 8);
  EXPECT_THAT(hit.released, ElementsAre(2));
  EXPECT_THAT(hit.blocks[0], ElementsAre(2, 3));
  EXPECT_EQ(prefill(cache, 2, cat(a, {99})), 8);
  // Needs 3 new blocks from the queue [1, 0, 4, 5, 9, 8, 7, 6]: 1 and 0 (a's unneeded head)
  // and 4 (sequence 1's published tail, freed first) are evicted.
  EXPECT_THAT(cache.table(0, 2).blocks(), ElementsAre(2, 3, 1, 0, 4));
  EXPECT_EQ(cache.table(0, 2).num_released(), 2);
  EXPECT_EQ(cache.prefix_metrics().evictions, 5);
  const SeqId batch[] = {2};
  const PageList pl = cache.page_list(0, batch);  // 13 tokens: visible [9, 13)
  EXPECT_THAT(pl.indices, ElementsAre(1, 0, 4));
  EXPECT_THAT(pl.first_offset, ElementsAre(1));
  // The cached blocks carry a's K/V: position 5 and 7 were written by sequence 0.
  float k[2], v[2];
  cache.read(2, 0, 7, k, v);
  EXPECT_EQ(k[0], float(a[7]));
  EXPECT_EQ(k[1], 7.0f);
}

TEST(PrefixCache, GroupsAgreeOnOneHitLength) {
  // Full layers in a big pool (nothing evicted), sliding layers in a small one.
  KvCacheConfig c;
  c.groups.push_back({{AttentionRule::full(), {0}}, {1, 20, 2, 1, 2, DType::kF32}, -1});
  c.groups.push_back({{AttentionRule::sliding(4), {1}}, {1, 10, 2, 1, 2, DType::kF32}, -1});
  c.enable_prefix_cache = true;
  KvCache cache(std::move(c));
  const Tokens a = range(1, 12);
  prefill(cache, 0, a);
  cache.release(0);
  prefill(cache, 1, range(100, 12));  // sliding group evicts a's blocks 5, 4; full group none
  EXPECT_EQ(cache.allocator(0).num_used(), 6);
  const PrefixHit hit = cache.lookup(cat(a, {99}));
  // Full alone would take 12 tokens; sliding at 12 needs blocks 4, 5 (gone), at 10 needs 3, 4;
  // at 8 it needs 2, 3: the agreed hit is 8.
  EXPECT_EQ(hit.num_tokens, 8);
  EXPECT_THAT(hit.blocks[0], ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(hit.released, ElementsAre(0, 2));
  EXPECT_THAT(hit.blocks[1], ElementsAre(2, 3));
}

// SGLang radix cache with page_size > 1: only whole pages are cached and matched.
TEST(PrefixCache, PageAlignmentMatchesSglangRadixCache) {
  KvCache cache(full_config(16, 4));
  prefill(cache, 0, range(1, 10));  // [1..10]: pages [1..4] and [5..8] cached, [9, 10] not
  EXPECT_EQ(cache.prefix_metrics().cached_blocks, 2);
  EXPECT_EQ(cache.lookup(range(1, 3)).num_tokens, 0);  // shorter than a page
  EXPECT_EQ(cache.lookup(range(1, 7)).num_tokens, 4);  // one whole page
  EXPECT_EQ(cache.lookup(range(1, 9)).num_tokens, 8);
  EXPECT_EQ(cache.lookup(range(1, 12)).num_tokens, 8);  // [9, 10] never formed a full page
  EXPECT_EQ(cache.lookup(Tokens{1, 2, 3, 4, 5, 6, 7, 0, 9}).num_tokens, 4);  // page 2 differs
  EXPECT_EQ(cache.lookup(Tokens{1, 2, 3, 5, 5, 6, 7, 8, 9}).num_tokens, 0);  // page 1 differs
  const PrefixHit hit = cache.lookup(range(1, 9));
  EXPECT_THAT(hit.blocks[0], ElementsAre(0, 1));
  // Extending the sequence to 12 tokens publishes its third page.
  decode(cache, 0, 11);
  decode(cache, 0, 12);
  EXPECT_EQ(cache.lookup(range(1, 13)).num_tokens, 12);
  EXPECT_THAT(cache.lookup(range(1, 13)).blocks[0], ElementsAre(0, 1, 2));
}

uint64_t weak_hash(uint64_t, std::span<const int32_t>, uint64_t) { return 42; }

TEST(PrefixCache, WeakHashCollisionsAreRejectedByVerification) {
  KvCacheConfig c = full_config(16, 4);
  c.block_hash = weak_hash;  // every block of every prefix collides
  KvCache cache(std::move(c));
  prefill(cache, 0, Tokens{1, 2, 3, 4, 5, 6, 7, 8, 9});
  // Same first block, different second block: only the first is a hit.
  EXPECT_EQ(cache.lookup(Tokens{1, 2, 3, 4, 9, 9, 9, 9, 1}).num_tokens, 4);
  // First block equal to the cached *second* block: same hash, same tokens, wrong parent.
  EXPECT_EQ(cache.lookup(Tokens{5, 6, 7, 8, 1}).num_tokens, 0);
  // Different tokens altogether.
  EXPECT_EQ(cache.lookup(Tokens{4, 3, 2, 1, 0}).num_tokens, 0);
  EXPECT_EQ(prefill(cache, 1, Tokens{5, 6, 7, 8, 1, 2, 3, 4, 0}), 0);
  EXPECT_EQ(prefill(cache, 2, Tokens{1, 2, 3, 4, 5, 6, 7, 8, 0}), 8);
  EXPECT_THAT(cache.table(0, 2).blocks(), ElementsAre(0, 1, 6));  // 3, 4, 5 went to seq 1
  // Each hit returns blocks with exactly the prompt's K/V.
  float k[2], v[2];
  cache.read(2, 0, 6, k, v);
  EXPECT_EQ(k[0], 7.0f);
  cache.read(1, 0, 2, k, v);
  EXPECT_EQ(k[0], 7.0f);
  EXPECT_EQ(cache.table(0, 1).blocks()[0], 3);
  // The default hash does separate these prefixes.
  const Tokens b1 = {1, 2, 3, 4}, b2 = {5, 6, 7, 8};
  EXPECT_NE(default_block_hash(0, b1, 0), default_block_hash(0, b2, 0));
  EXPECT_NE(default_block_hash(default_block_hash(0, b1, 0), b2, 0), default_block_hash(0, b2, 0));
}

TEST(PrefixCache, RewritingAPublishedBlockUnpublishesIt) {
  KvCache cache(full_config(8, 4));
  prefill(cache, 0, range(1, 9));
  EXPECT_EQ(cache.prefix_metrics().cached_blocks, 2);
  const float k[2] = {-1, -1};
  cache.write(0, 0, 5, k, k);  // block 1 now differs from what its hash promises
  EXPECT_EQ(cache.prefix_metrics().cached_blocks, 1);
  EXPECT_EQ(cache.lookup(range(1, 9)).num_tokens, 4);
  cache.check_invariants();
}

TEST(PrefixCache, BadInputIsAClearErrorAndChangesNothing) {
  KvCache cache(full_config(8, 4));
  prefill(cache, 0, range(1, 6));
  const std::string before = cache.debug_string();
  EXPECT_THROW(cache.add_prompt(0, range(1, 4)), Error);  // exists
  EXPECT_THROW(cache.add_prompt(1, Tokens{}), Error);     // empty
  EXPECT_THROW(cache.append_tokens(0, Tokens{}), Error);
  EXPECT_THROW(cache.append_tokens(5, Tokens{1}), Error);  // unknown
  EXPECT_EQ(cache.debug_string(), before);
  cache.add_sequence(3);
  cache.append(3, 2);  // positions without token ids
  const std::string before3 = cache.debug_string();
  EXPECT_THROW(cache.append_tokens(3, Tokens{1}), Error);
  EXPECT_EQ(cache.debug_string(), before3);
  KvCacheConfig mixed;
  mixed.groups.push_back({{AttentionRule::full(), {0}}, {1, 8, 4, 1, 2, DType::kF32}, -1});
  mixed.groups.push_back({{AttentionRule::full(), {1}}, {1, 8, 8, 1, 2, DType::kF32}, -1});
  mixed.enable_prefix_cache = true;
  EXPECT_THROW(KvCache{std::move(mixed)}, Error);
  KvCache off(KvCacheConfig::uniform({{AttentionRule::full(), {0}}}, 8, 4, 1, 2, DType::kF32));
  EXPECT_EQ(off.add_prompt(1, range(1, 9)), 0);
  EXPECT_EQ(off.cache_full_blocks(1), 0);
  EXPECT_THROW(off.reset_prefix_cache(), Error);
}

}  // namespace
}  // namespace pagedkv
