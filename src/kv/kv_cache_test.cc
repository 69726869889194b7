// KvCache: fork, copy-on-write, all-or-nothing appends across groups, release order, bad input.
#include "kv/kv_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

using ::testing::ElementsAre;

// Bookkeeping plus every byte of every storage: equal snapshots mean nothing changed.
std::string snapshot(const KvCache& cache) {
  std::string s = cache.debug_string();
  for (int32_t layer = 0; layer < cache.num_layers(); ++layer) {
    const KvLayerView v = cache.layer_view(layer);
    const size_t bytes = size_t(v.num_blocks) * v.stride_block * dtype_size(v.dtype);
    s.append(static_cast<const char*>(v.k), bytes);
    s.append(static_cast<const char*>(v.v), bytes);
  }
  return s;
}

template <typename F>
void expect_error_unchanged(const KvCache& cache, ErrorKind kind, const std::string& needle,
                            F&& f) {
  const std::string before = snapshot(cache);
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_TRUE(snapshot(cache) == before) << "state changed by a failed call: " << needle;
  cache.check_invariants();
}

// One full-attention layer (0) and one sliding layer (1), f32, Hkv = 1, D = 2.
KvCache make_cache(int32_t blocks, int32_t bs, int64_t window = 4) {
  return KvCache(
      KvCacheConfig::uniform({{AttentionRule::full(), {0}}, {AttentionRule::sliding(window), {1}}},
                             blocks, bs, 1, 2, DType::kF32));
}

// Distinct K/V per (seq tag, layer, pos).
void fill(KvCache& cache, SeqId seq, float tag, int64_t from, int64_t to) {
  for (int64_t pos = from; pos < to; ++pos)
    for (int32_t layer = 0; layer < cache.num_layers(); ++layer) {
      const float k[2] = {tag + pos, float(layer) + 0.5f};
      const float v[2] = {-tag - pos, float(layer) - 0.5f};
      cache.write(seq, layer, pos, k, v);
    }
}

float read_k0(const KvCache& cache, SeqId seq, int32_t layer, int64_t pos) {
  float k[2], v[2];
  cache.read(seq, layer, pos, k, v);
  return k[0];
}

TEST(KvCache, ForkSharesWithoutAllocating) {
  KvCache cache = make_cache(16, 4);
  cache.add_sequence(1);
  cache.append(1, 10);
  fill(cache, 1, 100, 0, 10);
  const AllocatorMetrics before0 = cache.metrics(0), before1 = cache.metrics(1);
  cache.fork(1, 2);
  EXPECT_EQ(cache.metrics(0).used_blocks, before0.used_blocks);
  EXPECT_EQ(cache.metrics(0).free_blocks, before0.free_blocks);
  EXPECT_EQ(cache.metrics(1).used_blocks, before1.used_blocks);
  EXPECT_THAT(cache.table(0, 2).blocks(), ElementsAre(0, 1, 2));
  for (int b : {0, 1, 2}) EXPECT_EQ(cache.allocator(0).ref_count(b), 2);
  EXPECT_EQ(cache.num_tokens(2), 10);
  const SeqId both[] = {1, 2};
  const PageList pl = cache.page_list(0, both);
  EXPECT_THAT(pl.indices, ElementsAre(0, 1, 2, 0, 1, 2));
  EXPECT_EQ(read_k0(cache, 2, 0, 9), 109.0f);
  cache.check_invariants();
}

TEST(KvCache, CopyOnWriteOfASharedPartialTailCopiesOnlyThatBlock) {
  KvCache cache = make_cache(16, 4, /*window=*/64);
  cache.add_sequence(1);
  cache.append(1, 10);  // blocks 0, 1, 2 (2 holds positions 8, 9)
  fill(cache, 1, 100, 0, 10);
  cache.fork(1, 2);
  EXPECT_EQ(cache.append(2, 1), 10);  // the child's next token goes into the shared tail
  EXPECT_THAT(cache.table(0, 1).blocks(), ElementsAre(0, 1, 2));
  EXPECT_THAT(cache.table(0, 2).blocks(), ElementsAre(0, 1, 3));
  EXPECT_EQ(cache.allocator(0).ref_count(0), 2);
  EXPECT_EQ(cache.allocator(0).ref_count(1), 2);
  EXPECT_EQ(cache.allocator(0).ref_count(2), 1);
  EXPECT_EQ(cache.allocator(0).ref_count(3), 1);
  EXPECT_EQ(cache.metrics(0).used_blocks, 4);
  // The copy carries the tail's tokens in every layer of the group.
  EXPECT_EQ(read_k0(cache, 2, 0, 8), 108.0f);
  EXPECT_EQ(read_k0(cache, 2, 0, 9), 109.0f);
  fill(cache, 2, 200, 10, 11);
  EXPECT_EQ(read_k0(cache, 2, 0, 10), 210.0f);
  EXPECT_EQ(cache.num_tokens(1), 10);
  // The parent's tail is now its own: appending copies nothing.
  cache.append(1, 1);
  EXPECT_THAT(cache.table(0, 1).blocks(), ElementsAre(0, 1, 2));
  fill(cache, 1, 100, 10, 11);
  EXPECT_EQ(read_k0(cache, 2, 0, 10), 210.0f);
  EXPECT_EQ(read_k0(cache, 1, 0, 10), 110.0f);
  // Rewriting an old position of a shared full block copies that block only.
  const float k[2] = {-7, -7}, v[2] = {7, 7};
  cache.write(2, 0, 1, k, v);
  EXPECT_THAT(cache.table(0, 2).blocks(), ElementsAre(4, 1, 3));
  EXPECT_EQ(read_k0(cache, 2, 0, 1), -7.0f);
  EXPECT_EQ(read_k0(cache, 2, 0, 2), 102.0f);
  EXPECT_EQ(read_k0(cache, 1, 0, 1), 101.0f);
  EXPECT_EQ(cache.allocator(0).ref_count(0), 1);
  cache.check_invariants();
}

TEST(KvCache, SlotForWriteCopiesASharedBlockForDeviceWriters) {
  KvCache cache = make_cache(16, 4, 64);
  cache.add_sequence(1);
  cache.append(1, 8);  // blocks 0, 1 (both full)
  fill(cache, 1, 100, 0, 8);
  cache.fork(1, 2);
  const TokenSlot at = cache.slot_for_write(2, 0, 5);  // shared block 1: copied to block 2
  EXPECT_EQ(at.block, 2);
  EXPECT_EQ(at.slot, 1);
  EXPECT_THAT(cache.table(0, 2).blocks(), ElementsAre(0, 2));
  EXPECT_EQ(read_k0(cache, 2, 0, 6), 106.0f);         // the copy carries the block's tokens
  EXPECT_EQ(cache.slot_for_write(2, 0, 5).block, 2);  // now private: no second copy
  EXPECT_EQ(cache.locate(0, 1, 5).block, 1);
  EXPECT_THROW(cache.slot_for_write(2, 0, 8), Error);
  EXPECT_THROW(cache.slot_for_write(2, 3, 0), Error);
  cache.check_invariants();
}

TEST(KvCache, FailedAppendChangesNothingInAnyGroup) {
  KvCacheConfig config = KvCacheConfig::uniform(
      {{AttentionRule::full(), {0}}, {AttentionRule::full(), {1}}}, 8, 2, 1, 2, DType::kF32);
  config.groups[1].budget_blocks = 3;
  KvCache cache(std::move(config));
  cache.add_sequence(1);
  cache.append(1, 5);  // 3 blocks in each group: group 1 is at its budget
  fill(cache, 1, 10, 0, 5);
  EXPECT_TRUE(cache.can_append(1, 1));   // the tail has a free slot
  EXPECT_FALSE(cache.can_append(1, 2));  // group 0 could, group 1 cannot
  expect_error_unchanged(cache, ErrorKind::kOutOfMemory, "layer group 1",
                         [&] { cache.append(1, 2); });
  // A forked child that must copy its tail needs a block too.
  cache.fork(1, 2);
  expect_error_unchanged(cache, ErrorKind::kOutOfMemory, "copy", [&] { cache.append(2, 1); });
  expect_error_unchanged(cache, ErrorKind::kOutOfMemory, "cannot allocate", [&] {
    const float k[2] = {1, 2};
    cache.write(2, 1, 0, k, k);
  });
}

TEST(KvCache, SlidingAppendMayUseTheBlocksItsSlideFrees) {
  KvCache cache(
      KvCacheConfig::uniform({{AttentionRule::sliding(2), {0}}}, 2, 2, 1, 2, DType::kF32));
  cache.add_sequence(1);
  for (int i = 0; i < 20; ++i) {  // a 2-block pool suffices for a window of 2 with bs = 2
    ASSERT_TRUE(cache.can_append(1, 1)) << i;
    cache.append(1, 1);
    cache.check_invariants();
  }
  EXPECT_EQ(cache.table(0, 1).num_released(), 9);
}

TEST(KvCache, ReleaseReturnsBlocksNewestFirst) {
  KvCache cache = make_cache(8, 2, 64);
  cache.add_sequence(1);
  cache.add_sequence(2);
  cache.append(1, 3);  // 0, 1
  cache.append(2, 2);  // 2
  cache.append(1, 2);  // 3
  EXPECT_THAT(cache.table(0, 1).blocks(), ElementsAre(0, 1, 3));
  cache.release(1);
  EXPECT_FALSE(cache.has_sequence(1));
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(4, 5, 6, 7, 3, 1, 0));
  cache.release(2);
  EXPECT_THAT(cache.allocator(0).free_queue(), ElementsAre(4, 5, 6, 7, 3, 1, 0, 2));
  cache.check_invariants();
}

TEST(KvCache, PageListAndLayerViewReadTheWrittenTokens) {
  KvCache cache = make_cache(16, 4, /*window=*/5);
  cache.add_sequence(7);
  for (int i = 0; i < 11; ++i) {
    cache.append(7, 1);
    fill(cache, 7, 1000, i, i + 1);
  }
  const SeqId batch[] = {7};
  const PageList pl = cache.page_list(1, batch);  // visible [6, 11): blocks 1 (slot 2..3), 2
  EXPECT_THAT(pl.first_offset, ElementsAre(2));
  EXPECT_THAT(pl.visible_len, ElementsAre(5));
  const KvLayerView view = cache.layer_view(1);
  for (int t = 0; t < 5; ++t) {
    const int off = pl.first_offset[0] + t;
    const int32_t block = pl.indices[pl.indptr[0] + off / 4];
    const float* k = static_cast<const float*>(view.k) + block * view.stride_block +
                     (off % 4) * view.stride_token;
    EXPECT_EQ(k[0], 1000.0f + 6 + t);
    EXPECT_EQ(k[1], 1.5f);
  }
}

TEST(KvCache, BadInputGivesClearErrorsAndChangesNothing) {
  KvCache cache = make_cache(8, 2, 2);
  cache.add_sequence(1);
  for (int i = 0; i < 5; ++i) cache.append(1, 1);
  fill(cache, 1, 10, 2, 5);
  const float k[2] = {1, 2};
  float out[2];
  using EK = ErrorKind;
  expect_error_unchanged(cache, EK::kInvalidArgument, "unknown sequence 9",
                         [&] { cache.append(9, 1); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "unknown sequence 9",
                         [&] { cache.release(9); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "n >= 1", [&] { cache.append(1, 0); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "n >= 1", [&] { cache.append(1, -2); });
  expect_error_unchanged(cache, EK::kOutOfMemory, "cannot append", [&] { cache.append(1, 100); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "never allocated",
                         [&] { cache.write(1, 0, 5, k, k); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "never allocated",
                         [&] { cache.write(1, 0, -1, k, k); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "released by the sliding",
                         [&] { cache.write(1, 1, 0, k, k); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "layer 2 outside",
                         [&] { cache.write(1, 2, 0, k, k); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "null",
                         [&] { cache.write(1, 0, 0, k, nullptr); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "never allocated",
                         [&] { cache.read(1, 0, 7, out, out); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "exists", [&] { cache.add_sequence(1); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "exists", [&] { cache.fork(1, 1); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "unknown sequence 4",
                         [&] { cache.fork(4, 5); });
  cache.add_sequence(2);
  const SeqId batch[] = {1, 2};
  expect_error_unchanged(cache, EK::kInvalidArgument, "has no tokens",
                         [&] { cache.page_list(0, batch); });
  expect_error_unchanged(cache, EK::kInvalidArgument, "layer group 2",
                         [&] { cache.page_list(2, batch); });
  // Blocks: unknown id and double release straight on the cache's allocator.
  expect_error_unchanged(cache, EK::kInvalidArgument, "unknown block id 8",
                         [&] { cache.allocator(0).release(8); });
  const int32_t free_block = cache.allocator(0).free_queue().front();
  expect_error_unchanged(cache, EK::kInvalidArgument, "double release",
                         [&] { cache.allocator(0).release(free_block); });
  // Bad configurations.
  using LG = LayerGroupSpec;
  auto make = [](std::vector<LG> g, int32_t blocks, int32_t bs) {
    return KvCache(KvCacheConfig::uniform(std::move(g), blocks, bs, 1, 2, DType::kF32));
  };
  EXPECT_THROW(make({{AttentionRule::full(), {0}}}, 0, 2), Error);
  EXPECT_THROW(make({{AttentionRule::full(), {0}}}, 4, 0), Error);
  EXPECT_THROW(make({{AttentionRule::full(), {0}}}, 4, -2), Error);
  EXPECT_THROW(make({{AttentionRule::sliding(0), {0}}}, 4, 2), Error);
  EXPECT_THROW(make({{AttentionRule::chunked(0), {0}}}, 4, 2), Error);
  EXPECT_THROW(make({{AttentionRule::full(), {0, 0}}}, 4, 2), Error);
  EXPECT_THROW(make({{AttentionRule::full(), {1}}}, 4, 2), Error);
  EXPECT_THROW(make({{AttentionRule::full(), {}}}, 4, 2), Error);
  EXPECT_THROW(make({}, 4, 2), Error);
}

TEST(KvCache, GroupsMayHaveTheirOwnGeometry) {
  KvCacheConfig config;
  config.groups.push_back({{AttentionRule::full(), {1}}, {1, 32, 16, 2, 8, DType::kBF16}, -1});
  config.groups.push_back({{AttentionRule::sliding(8), {0, 2}}, {1, 12, 4, 2, 8, DType::kF16}, -1});
  KvCache cache(std::move(config));
  EXPECT_EQ(cache.group_of_layer(0), 1);
  EXPECT_EQ(cache.group_of_layer(1), 0);
  EXPECT_EQ(cache.geometry(1).num_layers, 2);
  EXPECT_EQ(cache.layer_view(2).num_blocks, 12);
  EXPECT_EQ(cache.layer_view(1).block_size, 16);
  EXPECT_EQ(cache.metrics(1).bytes_per_block, 2 * 4 * 2 * 8 * 2 * 2);
  cache.add_sequence(1);
  cache.append(1, 40);
  EXPECT_EQ(cache.table(0, 1).blocks().size(), 3u);
  EXPECT_EQ(cache.table(1, 1).blocks().size(), 10u);  // one 40-token prefill chunk keeps all
  for (int i = 0; i < 8; ++i) cache.append(1, 1);
  EXPECT_LE(cache.table(1, 1).blocks().size(), 3u);
  cache.check_invariants();
}

}  // namespace
}  // namespace pagedkv

namespace pagedkv {
namespace {

// Issue 20: a pool no machine holds (--num-blocks 2147483647) is refused by size before any of
// it — allocator lists, ref counts, storage — is allocated; the message names the pool.
TEST(KvCache, ImpossiblePoolSizeIsRefusedBeforeAllocating) {
  for (const int32_t head_dim : {2, 128}) {  // bookkeeping alone too big / storage too big
    try {
      KvCache cache(KvCacheConfig::uniform({{AttentionRule::full(), {0, 1}}}, INT32_MAX, 16, 8,
                                           head_dim, DType::kF32));
      FAIL() << "built a pool of 2^31 blocks";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kOutOfMemory) << e.what();
      EXPECT_NE(std::string(e.what()).find("2147483647 blocks"), std::string::npos) << e.what();
    }
  }
  // The storage's own check: metadata fits, K/V do not (2^24 blocks x 16 x 64 heads x 1 KiB).
  try {
    KvCache cache(
        KvCacheConfig::uniform({{AttentionRule::full(), {0}}}, 1 << 24, 16, 64, 256, DType::kF32));
    FAIL() << "built a 64 TiB pool";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the KV pool (16777216 blocks of 16 tokens"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace pagedkv
