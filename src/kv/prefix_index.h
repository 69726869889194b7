#pragma once
// PrefixIndex: the prefix cache's hash chain over full blocks, shared by every layer group.
//
// A node stands for one full block of tokens at one place in a prefix: its key is
// hash(parent node's hash, the block's token ids, a namespace key). Nodes store their token ids,
// namespace and parent node, and a lookup accepts a node only if all three match what it walked
// so far — so a hash collision can cost a miss but never returns a wrong block: by induction the
// matched chain equals the prompt's blocks token for token. Node ids are never reused, so a stale
// parent id can never be mistaken for a live one.
//
// Each node names at most one cached physical block per layer group (-1: none). A node lives while
// it names a block in some group or has children (a sliding group may keep only the last blocks
// of a chain cached; the chain's metadata stays so those blocks remain reachable).
// Costs: lookup and registration are O(blocks x block_size) hashing plus O(1) expected map work
// per block; metadata is the token ids of live nodes.

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kv/layer_group.h"

namespace pagedkv {

// hash(parent_hash, block tokens, namespace key). Injectable so tests can force collisions.
using BlockHashFn = uint64_t (*)(uint64_t parent_hash, std::span<const int32_t> tokens,
                                 uint64_t namespace_key);
uint64_t default_block_hash(uint64_t parent_hash, std::span<const int32_t> tokens,
                            uint64_t namespace_key);
// A namespace key for a cache salt or adapter name (0 means "no namespace").
uint64_t namespace_key(std::string_view name);

// Longest hit in one group: the largest len <= max_tokens, a multiple of bs, such that every block
// the rule needs (AttentionRule::hit_blocks) is cached; cached[i] says whether chain block i is.
// len = 0 always qualifies. Full attention needs every block, sliding only the window's (vLLM's
// SlidingWindowManager), chunked only the current chunk's (ChunkedLocalAttentionManager).
int64_t longest_hit_tokens(const AttentionRule& rule, int64_t bs, std::span<const uint8_t> cached,
                           int64_t max_tokens);

class PrefixIndex {
 public:
  static constexpr int64_t kNoNode = -1;

  PrefixIndex(std::vector<int32_t> blocks_per_group, int32_t block_size,
              BlockHashFn hash = default_block_hash);

  int32_t block_size() const { return block_size_; }
  // Verified chain for the first blocks of `tokens` (at most max_blocks full blocks): node ids of
  // blocks 0, 1, ... up to the first block with no matching node.
  std::vector<int64_t> match(std::span<const int32_t> tokens, uint64_t ns,
                             int64_t max_blocks) const;
  // The node for `tokens` (one block) after `parent` (kNoNode for the first block), created if
  // absent.
  int64_t find_or_add(int64_t parent, std::span<const int32_t> tokens, uint64_t ns);
  // Cached block of a node in a group, or -1.
  int32_t block_of(int64_t node, int32_t group) const;
  // Cache `block` of `group` under `node` unless the node already has a block there or the block
  // is cached elsewhere. Returns true when attached.
  bool attach(int64_t node, int32_t group, int32_t block);
  // Drop a block's cache entry (eviction, or a write into it). Returns true if it was cached.
  bool detach(int32_t group, int32_t block);
  bool is_cached(int32_t group, int32_t block) const {
    return block_node_[group][block] != kNoNode;
  }
  // Remove nodes that hold nothing (call after find_or_add chains whose blocks did not attach).
  void prune(int64_t node);

  int64_t num_nodes() const { return int64_t(nodes_.size()); }
  int64_t num_cached_blocks(int32_t group) const { return cached_[group]; }
  void clear();
  // Node and block maps agree both ways; children counts match. Throws Error(Internal). O(nodes).
  void check_invariants() const;

 private:
  struct Node {
    uint64_t hash = 0;
    int64_t parent = kNoNode;
    uint64_t ns = 0;
    std::vector<int32_t> tokens;  // [block_size]
    std::vector<int32_t> blocks;  // [num_groups]: cached block per group, -1 none
    int32_t children = 0;
  };
  int64_t find(uint64_t hash, int64_t parent, std::span<const int32_t> tokens, uint64_t ns) const;
  uint64_t parent_hash(int64_t parent) const;

  int32_t block_size_;
  BlockHashFn hash_;
  std::unordered_map<int64_t, Node> nodes_;
  std::unordered_multimap<uint64_t, int64_t> by_hash_;
  std::vector<std::vector<int64_t>> block_node_;  // [group][block]: node caching it, or kNoNode
  std::vector<int64_t> cached_;                   // [group]: blocks cached
  int64_t next_id_ = 0;
};

}  // namespace pagedkv
