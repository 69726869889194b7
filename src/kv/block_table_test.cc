// Block tables and layer-group rules: the acceptance cases of issue 2 with ids written out.
#include "kv/block_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace pagedkv {
namespace {

using ::testing::ElementsAre;

struct Pool {
  explicit Pool(int32_t blocks, int32_t bs)
      : alloc(blocks), storage(KvGeometry{1, blocks, bs, 1, 2, DType::kF32}) {}
  BlockAllocator alloc;
  HostKvStorage storage;
};

// Decodes one token at a time until `cached` tokens are cached, then returns the table's held
// blocks after appending the next one (the moment the issue's counts refer to).
std::vector<int64_t> released_after_each_append(AttentionRule rule, int32_t bs, int64_t steps,
                                                Pool& pool, BlockTable& t) {
  std::vector<int64_t> released;  // released[n] = leading blocks released when n were cached
  for (int64_t n = 0; n < steps; ++n) {
    t.append(pool.alloc, pool.storage, 1);
    released.push_back(t.num_released());
    const int64_t limit =
        rule.kind == AttentionKind::kSliding ? (rule.window + bs - 1) / bs + 1 : 1 << 30;
    EXPECT_LE(int64_t(t.blocks().size()), limit) << "at n=" << n;
  }
  return released;
}

TEST(BlockTable, AppendAllocatesOnBlockBoundaries) {
  Pool pool(8, 4);
  BlockTable t(AttentionRule::full(), 4);
  std::vector<TokenSlot> slots = t.append(pool.alloc, pool.storage, 5);
  ASSERT_EQ(slots.size(), 5u);
  EXPECT_THAT(t.blocks(), ElementsAre(0, 1));
  EXPECT_EQ(slots[3].block, 0);
  EXPECT_EQ(slots[3].slot, 3);
  EXPECT_EQ(slots[4].block, 1);
  EXPECT_EQ(slots[4].slot, 0);
  slots = t.append(pool.alloc, pool.storage, 3);  // fills block 1, no new block
  EXPECT_THAT(t.blocks(), ElementsAre(0, 1));
  EXPECT_EQ(slots[2].slot, 3);
  t.append(pool.alloc, pool.storage, 1);
  EXPECT_THAT(t.blocks(), ElementsAre(0, 1, 2));
  EXPECT_EQ(pool.alloc.num_used(), 3);
}

TEST(BlockTable, SlidingWindowBs2W4ReleasesPerTheIssueCounts) {
  const AttentionRule rule = AttentionRule::sliding(4);
  Pool pool(16, 2);
  BlockTable t(rule, 2);
  const std::vector<int64_t> rel = released_after_each_append(rule, 2, 12, pool, t);
  EXPECT_EQ(rel[4], 0);  // 4 cached: nothing released
  EXPECT_EQ(rel[5], 1);  // 5 cached: block 0
  EXPECT_EQ(rel[6], 1);
  EXPECT_EQ(rel[7], 2);   // 7 cached: blocks 0-1
  EXPECT_EQ(rel[11], 4);  // 11 cached: blocks 0-3
  // Physical ids: logical block i was allocated as id i (the queue starts 0, 1, 2, ...); blocks
  // 0..3 went back to the queue's tail in that order, so the table holds 4 and 5 and the queue
  // is the never-used ids followed by 0, 1, 2, 3.
  EXPECT_EQ(t.num_tokens(), 12);
  EXPECT_THAT(t.blocks(), ElementsAre(4, 5));
  EXPECT_THAT(pool.alloc.free_queue(), ElementsAre(6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3));
}

TEST(BlockTable, ChunkedBs2C4ReleasesPerTheIssueCounts) {
  const AttentionRule rule = AttentionRule::chunked(4);
  Pool pool(16, 2);
  BlockTable t(rule, 2);
  const std::vector<int64_t> rel = released_after_each_append(rule, 2, 13, pool, t);
  EXPECT_EQ(rel[3], 0);
  EXPECT_EQ(rel[4], 2);  // 4 cached: 2 blocks released
  EXPECT_EQ(rel[7], 2);
  EXPECT_EQ(rel[8], 4);
  EXPECT_EQ(rel[12], 6);  // 12 cached: 6
  EXPECT_EQ(t.blocks().size(), 1u);
}

TEST(BlockTable, MultiTokenAppendKeepsWhatItsFirstQueryNeeds) {
  // A prefill chunk of 6 tokens at n = 6 (W = 4, bs = 2): its first query (position 6) sees
  // [3, 7), so only block 0 (positions 0-1) goes; the chunk's own tokens all stay.
  Pool pool(16, 2);
  BlockTable t(AttentionRule::sliding(4), 2);
  t.append(pool.alloc, pool.storage, 6);
  EXPECT_EQ(t.num_released(), 0);
  t.append(pool.alloc, pool.storage, 6);
  EXPECT_EQ(t.num_released(), 1);
  EXPECT_EQ(t.blocks().size(), 5u);
  t.append(pool.alloc, pool.storage, 1);  // n = 12: keep from 9 -> blocks 0-3 gone
  EXPECT_EQ(t.num_released(), 4);
  EXPECT_EQ(t.blocks().size(), 3u);
}

TEST(BlockTable, PageListWithPartialFirstAndLastBlocks) {
  Pool pool(32, 4);
  BlockTable slide(AttentionRule::sliding(6), 4);
  BlockTable chunk(AttentionRule::chunked(8), 4);
  BlockTable full(AttentionRule::full(), 4);
  for (int i = 0; i < 11; ++i) slide.append(pool.alloc, pool.storage, 1);
  chunk.append(pool.alloc, pool.storage, 10);
  chunk.append(pool.alloc, pool.storage, 3);  // 13 tokens, chunk [8, 16)
  full.append(pool.alloc, pool.storage, 3);
  PageList pl;
  slide.append_visible_pages(pl);
  chunk.append_visible_pages(pl);
  full.append_visible_pages(pl);
  // sliding: 11 tokens, visible [5, 11): logical blocks 1 (slots 1-3) and 2 (slots 0-2).
  // chunked: 13 tokens, visible [8, 13): logical blocks 2 and 3 (slot 0).
  // full: 3 tokens in one partial block.
  ASSERT_EQ(pl.batch_size(), 3);
  EXPECT_THAT(pl.indptr, ElementsAre(0, 2, 4, 5));
  EXPECT_EQ(pl.indices[0], slide.locate(5).block);
  EXPECT_EQ(pl.indices[1], slide.locate(10).block);
  EXPECT_EQ(pl.indices[2], chunk.locate(8).block);
  EXPECT_EQ(pl.indices[3], chunk.locate(12).block);
  EXPECT_EQ(pl.indices[4], full.locate(0).block);
  EXPECT_THAT(pl.first_offset, ElementsAre(1, 0, 0));
  EXPECT_THAT(pl.visible_len, ElementsAre(6, 5, 3));
  // Physical ids, written out: slide took 0, 1, 2 (block 0 was released at n = 8 -> keep 3),
  // chunk took 3, 4, 5 then 6 (its blocks 0, 1 released at n = 10 -> chunk start 8), full took 7.
  EXPECT_THAT(pl.indices, ElementsAre(1, 2, 5, 6, 7));
  const PageListView v = pl.view();
  EXPECT_EQ(v.batch_size, 3);
  EXPECT_EQ(v.indptr[3], 5);
  EXPECT_EQ(v.first_offset[0], 1);
}

TEST(BlockTable, ForkSharesAndReleaseGoesNewestFirst) {
  Pool pool(8, 2);
  BlockTable t(AttentionRule::full(), 2);
  t.append(pool.alloc, pool.storage, 5);  // blocks 0, 1, 2
  BlockTable c = t.fork(pool.alloc);
  EXPECT_EQ(pool.alloc.num_used(), 3);
  EXPECT_THAT(c.blocks(), ElementsAre(0, 1, 2));
  for (int b : {0, 1, 2}) EXPECT_EQ(pool.alloc.ref_count(b), 2);
  t.release_all(pool.alloc);
  EXPECT_EQ(t.num_tokens(), 0);
  EXPECT_EQ(pool.alloc.num_used(), 3);
  c.release_all(pool.alloc);
  EXPECT_THAT(pool.alloc.free_queue(), ElementsAre(3, 4, 5, 6, 7, 2, 1, 0));
}

TEST(BlockTable, BadPositionsAreClearErrors) {
  Pool pool(8, 2);
  BlockTable t(AttentionRule::sliding(2), 2);
  for (int i = 0; i < 6; ++i) t.append(pool.alloc, pool.storage, 1);
  EXPECT_TRUE(t.holds(5));
  EXPECT_FALSE(t.holds(6));
  EXPECT_FALSE(t.holds(1));
  try {
    t.locate(6);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("never allocated"), std::string::npos) << e.what();
  }
  try {
    t.locate(0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("released by the sliding(W=2) rule"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(t.append(pool.alloc, pool.storage, 0), Error);
  EXPECT_THROW(BlockTable(AttentionRule::sliding(0), 2), Error);
  EXPECT_THROW(BlockTable(AttentionRule::chunked(-1), 2), Error);
  EXPECT_THROW(BlockTable(AttentionRule::full(), 0), Error);
  BlockTable empty(AttentionRule::full(), 2);
  PageList pl;
  EXPECT_THROW(empty.append_visible_pages(pl), Error);
}

}  // namespace
}  // namespace pagedkv
