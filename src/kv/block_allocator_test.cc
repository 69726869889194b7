#include "kv/block_allocator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace pagedkv {
namespace {

using ::testing::ElementsAre;

// Runs f, expects an Error of `kind` whose message contains `needle`, and state unchanged.
template <typename F>
void expect_error_unchanged(const BlockAllocator& a, ErrorKind kind, const std::string& needle,
                            F&& f) {
  const std::string before = a.debug_string();
  try {
    f();
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_EQ(a.debug_string(), before);
  a.check_invariants();
}

TEST(BlockAllocator, AllocatesLeastRecentlyFreedFirst) {
  BlockAllocator a(4, 100);
  EXPECT_THAT(a.allocate(2), ElementsAre(0, 1));
  EXPECT_EQ(a.num_free(), 2);
  EXPECT_TRUE(a.release(1));
  EXPECT_TRUE(a.release(0));
  // Queue now 2, 3, 1, 0: blocks never used come first, then in the order they were freed.
  EXPECT_THAT(a.free_queue(), ElementsAre(2, 3, 1, 0));
  EXPECT_THAT(a.allocate(3), ElementsAre(2, 3, 1));
  EXPECT_THAT(a.free_queue(), ElementsAre(0));
  a.check_invariants();
}

TEST(BlockAllocator, RefCountsAndRelease) {
  BlockAllocator a(3);
  const int32_t b = a.allocate_one();
  a.retain(b);
  a.retain(b);
  EXPECT_EQ(a.ref_count(b), 3);
  EXPECT_FALSE(a.release(b));
  EXPECT_FALSE(a.release(b));
  EXPECT_FALSE(a.is_free(b));
  EXPECT_TRUE(a.release(b));
  EXPECT_TRUE(a.is_free(b));
  EXPECT_EQ(a.free_queue().back(), b);
  a.check_invariants();
}

TEST(BlockAllocator, TakeFreeRemovesFromTheMiddleOfTheQueue) {
  BlockAllocator a(5);
  a.take_free(2);
  EXPECT_EQ(a.ref_count(2), 1);
  EXPECT_THAT(a.free_queue(), ElementsAre(0, 1, 3, 4));
  a.take_free(0);
  a.take_free(4);
  EXPECT_THAT(a.free_queue(), ElementsAre(1, 3));
  a.check_invariants();
  a.release(4);
  a.release(0);
  EXPECT_THAT(a.free_queue(), ElementsAre(1, 3, 4, 0));
  a.check_invariants();
}

TEST(BlockAllocator, FailedAllocationChangesNothing) {
  BlockAllocator a(4);
  a.allocate(3);
  expect_error_unchanged(a, ErrorKind::kOutOfMemory, "cannot allocate 2 blocks",
                         [&] { a.allocate(2); });
  EXPECT_FALSE(a.can_allocate(2));
  EXPECT_TRUE(a.can_allocate(1));
}

TEST(BlockAllocator, BudgetCapsBlocksInUse) {
  BlockAllocator a(8, 64);
  a.set_budget(3);
  EXPECT_EQ(a.available(), 3);
  a.allocate(2);
  EXPECT_FALSE(a.can_allocate(2));
  expect_error_unchanged(a, ErrorKind::kOutOfMemory, "budget 3", [&] { a.allocate(2); });
  expect_error_unchanged(a, ErrorKind::kInvalidArgument, "below the 2 blocks",
                         [&] { a.set_budget(1); });
  a.allocate(1);
  expect_error_unchanged(a, ErrorKind::kOutOfMemory, "budget", [&] { a.take_free(5); });
  const AllocatorMetrics m = a.metrics();
  EXPECT_EQ(m.total_blocks, 8);
  EXPECT_EQ(m.free_blocks, 5);
  EXPECT_EQ(m.used_blocks, 3);
  EXPECT_EQ(m.budget_blocks, 3);
  EXPECT_EQ(m.available, 0);
  EXPECT_EQ(m.total_bytes, 8 * 64);
  EXPECT_EQ(m.used_bytes, 3 * 64);
  a.set_budget(BlockAllocator::kNone);
  EXPECT_EQ(a.available(), 5);
}

TEST(BlockAllocator, BadInputGivesClearErrorsAndChangesNothing) {
  BlockAllocator a(4);
  const int32_t b = a.allocate_one();
  expect_error_unchanged(a, ErrorKind::kInvalidArgument, "unknown block id 9",
                         [&] { a.release(9); });
  expect_error_unchanged(a, ErrorKind::kInvalidArgument, "unknown block id -1",
                         [&] { a.retain(-1); });
  expect_error_unchanged(a, ErrorKind::kInvalidArgument, "double release", [&] { a.release(2); });
  expect_error_unchanged(a, ErrorKind::kInvalidArgument, "is free", [&] { a.retain(3); });
  expect_error_unchanged(a, ErrorKind::kInvalidArgument, "n >= 1", [&] { a.allocate(0); });
  expect_error_unchanged(a, ErrorKind::kInvalidArgument, "n >= 1", [&] { a.allocate(-3); });
  expect_error_unchanged(a, ErrorKind::kInvalidArgument, "in use", [&] { a.take_free(b); });
  EXPECT_FALSE(a.can_allocate(0));
  a.release(b);
  expect_error_unchanged(a, ErrorKind::kInvalidArgument, "double release", [&] { a.release(b); });
  EXPECT_THROW(BlockAllocator(0), Error);
}

}  // namespace
}  // namespace pagedkv
