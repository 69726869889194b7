#pragma once
// BlockAllocator: bookkeeping of one pool's physical block ids (no tensors).
//
// Block ids are 0..N-1. Each block has a ref count (the number of block-table entries naming it).
// Blocks with ref count 0 sit in the free queue, ordered least-recently-freed first: allocation
// pops the front, release appends at the back. The queue is an intrusive doubly linked list over
// block ids (two int32 arrays), so pop, append and removal of any block are O(1) — the prefix
// cache takes a cached free block out of the middle when a request reuses it and evicts from the
// front when it needs room.
//
// An optional budget caps the blocks in use below the pool size (the scheduler's watermark).
// Every mutating call validates first and throws pagedkv::Error without changing anything.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pagedkv {

struct AllocatorMetrics {
  int32_t total_blocks = 0;   // N
  int32_t free_blocks = 0;    // in the free queue (ref count 0), cached ones included
  int32_t used_blocks = 0;    // ref count > 0
  int32_t budget_blocks = 0;  // most blocks that may be in use (N when no budget is set)
  int32_t available = 0;      // what allocate() can hand out now: min(free, budget - used)
  int64_t bytes_per_block = 0;
  int64_t total_bytes = 0;
  int64_t used_bytes = 0;
};

class BlockAllocator {
 public:
  static constexpr int32_t kNone = -1;

  // bytes_per_block only feeds the metrics (K + V of every layer of one block).
  explicit BlockAllocator(int32_t num_blocks, int64_t bytes_per_block = 0);

  int32_t num_blocks() const { return int32_t(ref_.size()); }
  int32_t num_free() const { return num_free_; }
  int32_t num_used() const { return num_blocks() - num_free_; }
  int32_t budget() const { return budget_; }
  // Blocks allocate() can hand out now.
  int32_t available() const;

  // Cap the blocks in use at `max_used_blocks` (kNone: no cap). Must be >= num_used().
  void set_budget(int32_t max_used_blocks);

  bool can_allocate(int32_t n) const { return n >= 1 && n <= available(); }
  // n fresh blocks, each with ref count 1, taken least-recently-freed first. All or nothing.
  std::vector<int32_t> allocate(int32_t n);
  int32_t allocate_one();

  // One more reference to a block in use.
  void retain(int32_t block);
  // One reference fewer; at 0 the block goes to the back of the free queue. Returns true then.
  bool release(int32_t block);
  // A free block (ref 0) taken out of the free queue and given ref count 1: the prefix cache
  // reuses a cached block this way. Counts against the budget like an allocation.
  void take_free(int32_t block);

  int32_t ref_count(int32_t block) const;
  bool is_free(int32_t block) const;
  bool valid(int32_t block) const { return block >= 0 && block < num_blocks(); }

  // Called with each block that allocate() pops from the free queue, before it is handed out
  // (the prefix cache drops the block's hash there: lazy eviction).
  void set_on_reuse(std::function<void(int32_t)> hook) { on_reuse_ = std::move(hook); }

  // The free queue front to back (tests, debugging). O(N).
  std::vector<int32_t> free_queue() const;
  AllocatorMetrics metrics() const;
  // Ref counts, queue order and budget as text: equal strings mean equal state (tests).
  std::string debug_string() const;
  // Internal consistency: links form one list of num_free blocks, a block is in the queue iff
  // its ref count is 0, no negative counts. Throws Error(Internal) naming the first violation.
  // O(N).
  void check_invariants() const;

 private:
  void check_id(int32_t block, const char* what) const;
  void queue_remove(int32_t block);
  void queue_push_back(int32_t block);

  std::vector<int32_t> ref_;     // [N] ref counts
  std::vector<int32_t> prev_;    // [N] free-queue links, kNone at the ends / when not queued
  std::vector<int32_t> next_;    // [N]
  std::vector<uint8_t> queued_;  // [N] 1 iff in the free queue
  int32_t head_ = kNone;
  int32_t tail_ = kNone;
  int32_t num_free_ = 0;
  int32_t budget_ = kNone;
  int64_t bytes_per_block_ = 0;
  std::function<void(int32_t)> on_reuse_;
};

}  // namespace pagedkv
