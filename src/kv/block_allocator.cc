#include "kv/block_allocator.h"

#include <algorithm>

#include "core/error.h"

namespace pagedkv {

BlockAllocator::BlockAllocator(int32_t num_blocks, int64_t bytes_per_block)
    : bytes_per_block_(bytes_per_block) {
  PKV_CHECK(num_blocks >= 1, InvalidArgument, "a block pool needs >= 1 block, got ", num_blocks);
  PKV_CHECK(bytes_per_block >= 0, InvalidArgument, "bytes per block must be >= 0, got ",
            bytes_per_block);
  ref_.assign(num_blocks, 0);
  prev_.assign(num_blocks, kNone);
  next_.assign(num_blocks, kNone);
  queued_.assign(num_blocks, 0);
  for (int32_t b = 0; b < num_blocks; ++b) queue_push_back(b);
}

int32_t BlockAllocator::available() const {
  if (budget_ == kNone) return num_free_;
  return std::max(0, std::min(num_free_, budget_ - num_used()));
}

void BlockAllocator::set_budget(int32_t max_used_blocks) {
  if (max_used_blocks != kNone) {
    PKV_CHECK(max_used_blocks >= 0 && max_used_blocks <= num_blocks(), InvalidArgument, "budget ",
              max_used_blocks, " is outside [0, ", num_blocks(), "]");
    PKV_CHECK(max_used_blocks >= num_used(), InvalidArgument, "budget ", max_used_blocks,
              " is below the ", num_used(), " blocks already in use");
  }
  budget_ = max_used_blocks;
}

std::vector<int32_t> BlockAllocator::allocate(int32_t n) {
  PKV_CHECK(n >= 1, InvalidArgument, "allocate needs n >= 1 blocks, got ", n);
  PKV_CHECK(n <= available(), OutOfMemory, "cannot allocate ", n, " blocks: ", num_free_,
            " free of ", num_blocks(), budget_ == kNone ? "" : str_cat(", budget ", budget_), ", ",
            num_used(), " in use");
  std::vector<int32_t> out;
  out.reserve(n);
  for (int32_t i = 0; i < n; ++i) {
    const int32_t b = head_;
    if (on_reuse_) on_reuse_(b);
    queue_remove(b);
    ref_[b] = 1;
    out.push_back(b);
  }
  return out;
}

int32_t BlockAllocator::allocate_one() { return allocate(1)[0]; }

void BlockAllocator::check_id(int32_t block, const char* what) const {
  PKV_CHECK(valid(block), InvalidArgument, what, ": unknown block id ", block, " (pool has ",
            num_blocks(), " blocks)");
}

void BlockAllocator::retain(int32_t block) {
  check_id(block, "retain");
  PKV_CHECK(ref_[block] > 0, InvalidArgument, "retain: block ", block,
            " is free (ref count 0); only blocks in use can be shared");
  ++ref_[block];
}

bool BlockAllocator::release(int32_t block) {
  check_id(block, "release");
  PKV_CHECK(ref_[block] > 0, InvalidArgument, "release: block ", block,
            " is already free (double release)");
  if (--ref_[block] > 0) return false;
  queue_push_back(block);
  return true;
}

void BlockAllocator::take_free(int32_t block) {
  check_id(block, "take_free");
  PKV_CHECK(ref_[block] == 0, InvalidArgument, "take_free: block ", block, " is in use (ref ",
            ref_[block], ")");
  PKV_CHECK(budget_ == kNone || num_used() < budget_, OutOfMemory, "take_free: budget of ", budget_,
            " blocks is exhausted");
  queue_remove(block);
  ref_[block] = 1;
}

int32_t BlockAllocator::ref_count(int32_t block) const {
  check_id(block, "ref_count");
  return ref_[block];
}

bool BlockAllocator::is_free(int32_t block) const {
  check_id(block, "is_free");
  return queued_[block] != 0;
}

void BlockAllocator::queue_remove(int32_t b) {
  const int32_t p = prev_[b], n = next_[b];
  (p == kNone ? head_ : next_[p]) = n;
  (n == kNone ? tail_ : prev_[n]) = p;
  prev_[b] = next_[b] = kNone;
  queued_[b] = 0;
  --num_free_;
}

void BlockAllocator::queue_push_back(int32_t b) {
  prev_[b] = tail_;
  next_[b] = kNone;
  (tail_ == kNone ? head_ : next_[tail_]) = b;
  tail_ = b;
  queued_[b] = 1;
  ++num_free_;
}

std::vector<int32_t> BlockAllocator::free_queue() const {
  std::vector<int32_t> out;
  out.reserve(num_free_);
  for (int32_t b = head_; b != kNone; b = next_[b]) out.push_back(b);
  return out;
}

AllocatorMetrics BlockAllocator::metrics() const {
  AllocatorMetrics m;
  m.total_blocks = num_blocks();
  m.free_blocks = num_free_;
  m.used_blocks = num_used();
  m.budget_blocks = budget_ == kNone ? num_blocks() : budget_;
  m.available = available();
  m.bytes_per_block = bytes_per_block_;
  m.total_bytes = bytes_per_block_ * num_blocks();
  m.used_bytes = bytes_per_block_ * num_used();
  return m;
}

std::string BlockAllocator::debug_string() const {
  // std::to_string, not str_cat: tests snapshot state often, and a stream per number is slow.
  std::string s = "budget=" + std::to_string(budget_) + " ref=[";
  for (int32_t r : ref_) s += std::to_string(r) + ",";
  s += "] free=[";
  for (int32_t b = head_; b != kNone; b = next_[b]) s += std::to_string(b) + ",";
  return s + "]";
}

void BlockAllocator::check_invariants() const {
  const int32_t n = num_blocks();
  int32_t count = 0, prev = kNone;
  for (int32_t b = head_; b != kNone; b = next_[b]) {
    PKV_CHECK(b >= 0 && b < n, Internal, "free queue holds invalid id ", b);
    PKV_CHECK(queued_[b], Internal, "block ", b, " is linked in the free queue but not marked");
    PKV_CHECK(prev_[b] == prev, Internal, "free queue back link of block ", b, " is broken");
    PKV_CHECK(++count <= n, Internal, "free queue has a cycle");
    prev = b;
  }
  PKV_CHECK(prev == tail_, Internal, "free queue tail is ", tail_, ", walk ended at ", prev);
  PKV_CHECK(count == num_free_, Internal, "free queue has ", count, " blocks, counter says ",
            num_free_);
  for (int32_t b = 0; b < n; ++b) {
    PKV_CHECK(ref_[b] >= 0, Internal, "block ", b, " has negative ref count ", ref_[b]);
    PKV_CHECK((ref_[b] == 0) == (queued_[b] != 0), Internal, "block ", b, " has ref count ",
              ref_[b], queued_[b] ? " but is in the free queue" : " but is not in the free queue");
  }
  PKV_CHECK(budget_ == kNone || num_used() <= budget_, Internal, num_used(),
            " blocks in use exceed the budget of ", budget_);
}

}  // namespace pagedkv
