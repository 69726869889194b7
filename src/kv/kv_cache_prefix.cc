// KvCache's prefix cache: lookups with hits agreed across layer groups, all-or-nothing admission
// of a prompt with hits, publication of full blocks, reset. See prefix_index.h for the chain.
#include <algorithm>

#include "core/error.h"
#include "kv/kv_cache.h"

namespace pagedkv {

PrefixHit KvCache::lookup(std::span<const int32_t> prompt, uint64_t ns) const {
  PrefixHit hit;
  hit.released.assign(num_groups(), 0);
  hit.blocks.resize(num_groups());
  if (!prefix_ || prompt.size() < 2) return hit;
  const int64_t bs = prefix_->block_size();
  // Cap: the last prompt token is always recomputed (its logits start decoding).
  const std::vector<int64_t> chain = prefix_->match(prompt, ns, (int64_t(prompt.size()) - 1) / bs);
  const int64_t m = int64_t(chain.size());
  // uncached[g][i]: blocks among chain[0, i) with no cached block in group g (O(1) range checks).
  std::vector<std::vector<int32_t>> uncached(num_groups(), std::vector<int32_t>(m + 1, 0));
  for (int32_t g = 0; g < num_groups(); ++g)
    for (int64_t i = 0; i < m; ++i)
      uncached[g][i + 1] = uncached[g][i] + (prefix_->block_of(chain[i], g) == -1 ? 1 : 0);
  // A hit of L tokens in group g needs the blocks its rule retains before position L is
  // appended: [retained_begin(L) / bs, L / bs) — all of them for full attention, the window's
  // for sliding (vLLM's SlidingWindowManager), the current chunk's for chunked. Shrink L until
  // every group accepts it; each group's answer only lowers L, so this settles.
  auto group_ok = [&](int32_t g, int64_t len) {
    const auto [first, end] = groups_[g].spec.rule.hit_blocks(len, bs);
    return uncached[g][end] - uncached[g][first] == 0;
  };
  int64_t len = m * bs;
  for (bool changed = true; changed && len > 0;) {
    changed = false;
    for (int32_t g = 0; g < num_groups(); ++g) {
      while (len > 0 && !group_ok(g, len)) {
        len -= bs;
        changed = true;
      }
    }
  }
  hit.num_tokens = len;
  for (int32_t g = 0; g < num_groups() && len > 0; ++g) {
    hit.released[g] = groups_[g].spec.rule.hit_blocks(len, bs).first;
    for (int64_t i = hit.released[g]; i < len / bs; ++i)
      hit.blocks[g].push_back(prefix_->block_of(chain[i], g));
  }
  return hit;
}

std::vector<int64_t> KvCache::blocks_to_admit(const PrefixHit& hit, int64_t prompt_len) const {
  std::vector<int64_t> need(num_groups(), 0);
  for (int32_t g = 0; g < num_groups(); ++g) {
    const BlockAllocator& alloc = *groups_[g].alloc;
    const int64_t bs = groups_[g].storage->geometry().block_size;
    for (int32_t b : hit.blocks[g]) need[g] += alloc.ref_count(b) == 0 ? 1 : 0;
    need[g] += (prompt_len + bs - 1) / bs - hit.num_tokens / bs;
  }
  return need;
}

std::vector<int64_t> KvCache::blocks_to_admit(std::span<const int32_t> prompt, uint64_t ns) const {
  return blocks_to_admit(lookup(prompt, ns), int64_t(prompt.size()));
}

int64_t KvCache::add_prompt(SeqId seq, std::span<const int32_t> prompt, uint64_t ns) {
  PKV_CHECK(!has_sequence(seq), InvalidArgument, "add_prompt: sequence ", seq, " exists");
  PKV_CHECK(!prompt.empty(), InvalidArgument, "add_prompt: empty prompt for sequence ", seq);
  const PrefixHit hit = lookup(prompt, ns);
  const int64_t len = int64_t(prompt.size());
  const std::vector<int64_t> need = blocks_to_admit(hit, len);
  for (int32_t g = 0; g < num_groups(); ++g) {
    const int64_t bs = groups_[g].storage->geometry().block_size;
    const int64_t fresh = (len + bs - 1) / bs - hit.num_tokens / bs;
    PKV_CHECK(need[g] <= groups_[g].alloc->available(), OutOfMemory, "cannot add sequence ", seq,
              " with ", len, " prompt tokens (", hit.num_tokens, " cached): layer group ", g,
              " needs ", need[g], " blocks (", need[g] - fresh, " cached but free, ", fresh,
              " new), ", groups_[g].alloc->available(), " available");
  }
  // Validated: nothing below can fail.
  add_sequence(seq);
  Sequence& s = seqs_.at(seq);
  for (int32_t g = 0; g < num_groups(); ++g) {
    BlockAllocator& alloc = *groups_[g].alloc;
    for (int32_t b : hit.blocks[g]) {
      if (alloc.ref_count(b) == 0) {
        alloc.take_free(b);  // touch: out of the free queue, no longer evictable
      } else {
        alloc.retain(b);
      }
    }
    s.tables[g].adopt_prefix(hit.num_tokens, hit.released[g], hit.blocks[g]);
    s.tables[g].append(alloc, *groups_[g].storage, len - hit.num_tokens);
  }
  s.tokens.assign(prompt.begin(), prompt.end());
  s.ns = ns;
  s.published_blocks = prefix_ ? hit.num_tokens / prefix_->block_size() : 0;
  if (prefix_) {
    ++prefix_metrics_.queries;
    prefix_metrics_.query_tokens += len;
    prefix_metrics_.hits += hit.num_tokens > 0 ? 1 : 0;
    prefix_metrics_.hit_tokens += hit.num_tokens;
  }
  return hit.num_tokens;
}

int64_t KvCache::append_tokens(SeqId seq, std::span<const int32_t> tokens) {
  Sequence& s = sequence(seq, "append_tokens");
  PKV_CHECK(!tokens.empty(), InvalidArgument, "append_tokens: no tokens for sequence ", seq);
  PKV_CHECK(int64_t(s.tokens.size()) == s.tables[0].num_tokens(), InvalidArgument,
            "append_tokens: sequence ", seq, " has ", s.tables[0].num_tokens(),
            " positions but only ", s.tokens.size(), " known token ids (appended without ids)");
  const int64_t first = append(seq, int64_t(tokens.size()));  // all or nothing
  s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
  return first;
}

int32_t KvCache::cache_full_blocks(SeqId seq) {
  Sequence& s = sequence(seq, "cache_full_blocks");
  if (!prefix_) return 0;
  const int64_t bs = prefix_->block_size();
  const int64_t known = std::min<int64_t>(int64_t(s.tokens.size()), s.tables[0].num_tokens());
  const int64_t full = known / bs;
  if (full <= s.published_blocks) return 0;
  // Walk the chain from the first block (nodes may have been pruned and re-made since the last
  // call) and attach every held block whose node has none in its group yet.
  int32_t attached = 0;
  int64_t parent = PrefixIndex::kNoNode;
  const std::span<const int32_t> ids(s.tokens);
  for (int64_t i = 0; i < full; ++i) {
    parent = prefix_->find_or_add(parent, ids.subspan(i * bs, bs), s.ns);
    for (int32_t g = 0; g < num_groups(); ++g) {
      const BlockTable& t = s.tables[g];
      if (i < t.num_released()) continue;
      attached += prefix_->attach(parent, g, t.blocks()[i - t.num_released()]) ? 1 : 0;
    }
  }
  prefix_->prune(parent);  // a tail node that attached nothing anywhere
  s.published_blocks = full;
  return attached;
}

void KvCache::reset_prefix_cache() {
  PKV_CHECK(prefix_ != nullptr, InvalidArgument, "reset: the prefix cache is off");
  for (int32_t g = 0; g < num_groups(); ++g)
    PKV_CHECK(groups_[g].alloc->num_used() == 0, InvalidArgument, "reset refused: layer group ", g,
              " has ", groups_[g].alloc->num_used(), " blocks in use");
  prefix_->clear();
  for (auto& [id, s] : seqs_) s.published_blocks = 0;
  ++prefix_metrics_.resets;
}

PrefixCacheMetrics KvCache::prefix_metrics() const {
  PrefixCacheMetrics m = prefix_metrics_;
  m.cached_blocks = 0;
  if (prefix_)
    for (int32_t g = 0; g < num_groups(); ++g) m.cached_blocks += prefix_->num_cached_blocks(g);
  return m;
}

}  // namespace pagedkv
