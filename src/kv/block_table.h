#pragma once
// BlockTable: one sequence's blocks in one layer group.
//
// Logical block i holds positions [i * bs, (i + 1) * bs). A full-attention table holds every
// logical block; a sliding or chunked table releases leading blocks that no current or later
// query can see (layer_group.h), so it holds logical blocks [num_released, num_released +
// blocks().size()) and positions before num_released * bs are gone for good. The ids it names
// are references counted by the group's BlockAllocator; the table's methods keep the two in step.
//
// Appending validates everything first (blocks needed for new tokens plus one copy of a shared
// partial tail, minus blocks the slide frees) and then mutates, so a failure changes nothing.

#include <cstdint>
#include <vector>

#include "kv/block_allocator.h"
#include "kv/kv_storage.h"
#include "kv/layer_group.h"
#include "kv/page_list.h"

namespace pagedkv {

struct TokenSlot {
  int32_t block = -1;  // physical block id
  int32_t slot = -1;   // position inside the block
};

class BlockTable {
 public:
  BlockTable(AttentionRule rule, int32_t block_size);

  const AttentionRule& rule() const { return rule_; }
  int32_t block_size() const { return block_size_; }
  int64_t num_tokens() const { return num_tokens_; }
  // Leading logical blocks released by the window / chunk rule.
  int64_t num_released() const { return num_released_; }
  // Held physical blocks, oldest first: blocks()[i] is logical block num_released() + i.
  const std::vector<int32_t>& blocks() const { return blocks_; }

  // What appending n tokens would do; feasible iff needed <= available + freed.
  struct AppendPlan {
    int32_t release_leading = 0;  // held blocks the window / chunk rule drops first
    int32_t freed = 0;            // of those, blocks whose ref count reaches 0
    int32_t copy_tail = 0;        // 1 when the partial tail block is shared (copy-on-write)
    int32_t new_blocks = 0;       // fresh blocks for the new tokens
    int32_t needed() const { return copy_tail + new_blocks; }
  };
  AppendPlan plan_append(const BlockAllocator& alloc, int64_t n) const;
  bool can_append(const BlockAllocator& alloc, int64_t n) const;
  // Append n >= 1 tokens: release what the rule drops, copy a shared partial tail, allocate
  // blocks on boundaries. Returns each new token's (block, slot). All or nothing.
  std::vector<TokenSlot> append(BlockAllocator& alloc, KvStorage& storage, int64_t n);

  // A table naming the same blocks (ref counts rise by one each; nothing is copied).
  BlockTable fork(BlockAllocator& alloc) const;

  bool holds(int64_t pos) const;
  // Where position pos lives. Error if pos was never appended or was released.
  TokenSlot locate(int64_t pos) const;
  // Before writing position pos: if its block is shared (ref > 1), copy it to a fresh block in
  // every layer and repoint this table. Returns true when it copied. All or nothing.
  bool make_writable(BlockAllocator& alloc, KvStorage& storage, int64_t pos);

  // Start an empty table from a prefix-cache hit: num_tokens cached tokens (a multiple of the
  // block size), of which the first num_released blocks are not needed by the rule, and `held`
  // naming the rest. The caller has already given this table one reference to each held block.
  void adopt_prefix(int64_t num_tokens, int64_t num_released, std::vector<int32_t> held);

  // Release every block, newest first (so the tail goes to the free queue before the head), and
  // forget all tokens.
  void release_all(BlockAllocator& alloc);

  // Append this sequence's visible pages (query at position num_tokens() - 1) to a page list.
  void append_visible_pages(PageList& out) const;

 private:
  int64_t blocks_for(int64_t tokens) const { return (tokens + block_size_ - 1) / block_size_; }
  void check_pos(int64_t pos, const char* what) const;

  AttentionRule rule_;
  int32_t block_size_;
  int64_t num_tokens_ = 0;
  int64_t num_released_ = 0;
  std::vector<int32_t> blocks_;  // [held blocks]: physical ids, oldest first
};

}  // namespace pagedkv
