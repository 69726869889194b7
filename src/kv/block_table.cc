#include "kv/block_table.h"

#include <algorithm>

#include "core/error.h"

namespace pagedkv {

BlockTable::BlockTable(AttentionRule rule, int32_t block_size)
    : rule_(rule), block_size_(block_size) {
  rule_.validate();
  PKV_CHECK(block_size >= 1, InvalidArgument, "block size must be >= 1, got ", block_size);
}

BlockTable::AppendPlan BlockTable::plan_append(const BlockAllocator& alloc, int64_t n) const {
  AppendPlan plan;
  const int64_t keep_block = rule_.retained_begin(num_tokens_) / block_size_;
  plan.release_leading =
      int32_t(std::clamp<int64_t>(keep_block - num_released_, 0, int64_t(blocks_.size())));
  for (int32_t i = 0; i < plan.release_leading; ++i)
    plan.freed += alloc.ref_count(blocks_[i]) == 1 ? 1 : 0;
  // The partial tail block receives the next token; if another table shares it, copy it first.
  if (num_tokens_ % block_size_ != 0 && int64_t(blocks_.size()) > plan.release_leading &&
      alloc.ref_count(blocks_.back()) > 1)
    plan.copy_tail = 1;
  plan.new_blocks = int32_t(blocks_for(num_tokens_ + n) - blocks_for(num_tokens_));
  return plan;
}

bool BlockTable::can_append(const BlockAllocator& alloc, int64_t n) const {
  if (n < 1) return false;
  const AppendPlan plan = plan_append(alloc, n);
  return plan.needed() <= alloc.available() + plan.freed;
}

std::vector<TokenSlot> BlockTable::append(BlockAllocator& alloc, KvStorage& storage, int64_t n) {
  PKV_CHECK(n >= 1, InvalidArgument, "append needs n >= 1 tokens, got ", n);
  PKV_CHECK(storage.geometry().num_blocks == alloc.num_blocks() &&
                storage.geometry().block_size == block_size_,
            InvalidArgument, "append: storage geometry does not match the allocator / table");
  const AppendPlan plan = plan_append(alloc, n);
  PKV_CHECK(plan.needed() <= alloc.available() + plan.freed, OutOfMemory, "cannot append ", n,
            " tokens: needs ", plan.needed(), " blocks (", plan.new_blocks, " new, ",
            plan.copy_tail, " copy-on-write), ", alloc.available(), " available, ", plan.freed,
            " freed by the ", rule_.describe(), " rule");
  // Validated: from here on nothing can fail.
  for (int32_t i = 0; i < plan.release_leading; ++i) alloc.release(blocks_[i]);
  blocks_.erase(blocks_.begin(), blocks_.begin() + plan.release_leading);
  num_released_ += plan.release_leading;
  if (plan.copy_tail) {
    const int32_t fresh = alloc.allocate_one();
    storage.copy_block(blocks_.back(), fresh);
    alloc.release(blocks_.back());
    blocks_.back() = fresh;
  }
  if (plan.new_blocks > 0) {
    const std::vector<int32_t> fresh = alloc.allocate(plan.new_blocks);
    blocks_.insert(blocks_.end(), fresh.begin(), fresh.end());
  }
  std::vector<TokenSlot> slots;
  slots.reserve(n);
  for (int64_t pos = num_tokens_; pos < num_tokens_ + n; ++pos) {
    slots.push_back({blocks_[pos / block_size_ - num_released_], int32_t(pos % block_size_)});
  }
  num_tokens_ += n;
  return slots;
}

BlockTable BlockTable::fork(BlockAllocator& alloc) const {
  for (int32_t b : blocks_)
    PKV_CHECK(alloc.valid(b) && alloc.ref_count(b) > 0, Internal, "fork: table names block ", b,
              " which is not in use");
  BlockTable child = *this;
  for (int32_t b : blocks_) alloc.retain(b);
  return child;
}

bool BlockTable::holds(int64_t pos) const {
  return pos >= 0 && pos < num_tokens_ && pos / block_size_ >= num_released_;
}

void BlockTable::check_pos(int64_t pos, const char* what) const {
  PKV_CHECK(pos >= 0 && pos < num_tokens_, InvalidArgument, what, ": position ", pos,
            " was never allocated (the sequence has ", num_tokens_, " tokens)");
  PKV_CHECK(pos / block_size_ >= num_released_, InvalidArgument, what, ": position ", pos,
            " was released by the ", rule_.describe(), " rule (first held position ",
            num_released_ * block_size_, ")");
}

TokenSlot BlockTable::locate(int64_t pos) const {
  check_pos(pos, "locate");
  return {blocks_[pos / block_size_ - num_released_], int32_t(pos % block_size_)};
}

bool BlockTable::make_writable(BlockAllocator& alloc, KvStorage& storage, int64_t pos) {
  check_pos(pos, "write");
  int32_t& entry = blocks_[pos / block_size_ - num_released_];
  if (alloc.ref_count(entry) == 1) return false;
  const int32_t fresh = alloc.allocate_one();  // throws OutOfMemory before any change
  storage.copy_block(entry, fresh);
  alloc.release(entry);
  entry = fresh;
  return true;
}

void BlockTable::adopt_prefix(int64_t num_tokens, int64_t num_released, std::vector<int32_t> held) {
  PKV_CHECK(num_tokens_ == 0 && blocks_.empty(), InvalidArgument,
            "adopt_prefix: the table is not empty");
  PKV_CHECK(num_tokens >= 0 && num_tokens % block_size_ == 0 && num_released >= 0 &&
                num_released + int64_t(held.size()) == num_tokens / block_size_,
            InvalidArgument, "adopt_prefix: ", num_tokens, " tokens do not fit ", num_released,
            " released + ", held.size(), " held blocks of ", block_size_);
  num_tokens_ = num_tokens;
  num_released_ = num_released;
  blocks_ = std::move(held);
}

void BlockTable::release_all(BlockAllocator& alloc) {
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) alloc.release(*it);
  blocks_.clear();
  num_tokens_ = 0;
  num_released_ = 0;
}

void BlockTable::append_visible_pages(PageList& out) const {
  PKV_CHECK(num_tokens_ >= 1, InvalidArgument,
            "page list: a sequence with no tokens has no "
            "query to attend");
  const int64_t begin = rule_.visible_begin(num_tokens_);
  const int64_t first = begin / block_size_, last = (num_tokens_ - 1) / block_size_;
  PKV_CHECK(first >= num_released_, Internal, "page list: visible block ", first, " was released (",
            num_released_, " released)");
  for (int64_t i = first; i <= last; ++i) out.indices.push_back(blocks_[i - num_released_]);
  out.indptr.push_back(int32_t(out.indices.size()));
  out.first_offset.push_back(int32_t(begin % block_size_));
  out.visible_len.push_back(int32_t(num_tokens_ - begin));
}

}  // namespace pagedkv
