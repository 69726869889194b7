#include "kv/prefix_index.h"

#include <algorithm>

#include "core/error.h"

namespace pagedkv {
namespace {

uint64_t mix64(uint64_t x) {  // splitmix64 finalizer: every input bit affects every output bit
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t default_block_hash(uint64_t parent_hash, std::span<const int32_t> tokens,
                            uint64_t namespace_key) {
  uint64_t h = mix64(parent_hash ^ 0x9e3779b97f4a7c15ull) ^ mix64(namespace_key + 0x51ed27ull);
  for (int32_t t : tokens) h = mix64(h ^ uint64_t(uint32_t(t)) ^ 0x2545f4914f6cdd1dull);
  return h;
}

uint64_t namespace_key(std::string_view name) {
  if (name.empty()) return 0;
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then mixed
  for (char c : name) h = (h ^ uint8_t(c)) * 0x100000001b3ull;
  return mix64(h) | 1;  // never 0
}

int64_t longest_hit_tokens(const AttentionRule& rule, int64_t bs, std::span<const uint8_t> cached,
                           int64_t max_tokens) {
  PKV_CHECK(bs >= 1, InvalidArgument, "block size must be >= 1");
  std::vector<int64_t> missing(cached.size() + 1, 0);  // missing[i]: uncached among [0, i)
  for (size_t i = 0; i < cached.size(); ++i) missing[i + 1] = missing[i] + (cached[i] ? 0 : 1);
  for (int64_t len = std::min<int64_t>(max_tokens, int64_t(cached.size()) * bs) / bs * bs; len > 0;
       len -= bs) {
    const auto [first, end] = rule.hit_blocks(len, bs);
    if (missing[end] - missing[first] == 0) return len;
  }
  return 0;
}

PrefixIndex::PrefixIndex(std::vector<int32_t> blocks_per_group, int32_t block_size,
                         BlockHashFn hash)
    : block_size_(block_size), hash_(hash) {
  PKV_CHECK(block_size >= 1, InvalidArgument, "prefix index block size must be >= 1");
  PKV_CHECK(hash != nullptr, InvalidArgument, "prefix index needs a hash function");
  for (int32_t n : blocks_per_group) block_node_.emplace_back(n, kNoNode);
  cached_.assign(blocks_per_group.size(), 0);
}

uint64_t PrefixIndex::parent_hash(int64_t parent) const {
  return parent == kNoNode ? 0 : nodes_.at(parent).hash;
}

int64_t PrefixIndex::find(uint64_t hash, int64_t parent, std::span<const int32_t> tokens,
                          uint64_t ns) const {
  auto [lo, hi] = by_hash_.equal_range(hash);
  for (auto it = lo; it != hi; ++it) {
    const Node& n = nodes_.at(it->second);
    // Verification: a colliding hash with other tokens, namespace or parent is not a hit.
    if (n.parent == parent && n.ns == ns &&
        std::equal(n.tokens.begin(), n.tokens.end(), tokens.begin(), tokens.end()))
      return it->second;
  }
  return kNoNode;
}

std::vector<int64_t> PrefixIndex::match(std::span<const int32_t> tokens, uint64_t ns,
                                        int64_t max_blocks) const {
  std::vector<int64_t> chain;
  const int64_t full = std::min<int64_t>(max_blocks, int64_t(tokens.size()) / block_size_);
  int64_t parent = kNoNode;
  for (int64_t i = 0; i < full; ++i) {
    const auto block = tokens.subspan(i * block_size_, block_size_);
    const int64_t node = find(hash_(parent_hash(parent), block, ns), parent, block, ns);
    if (node == kNoNode) break;
    chain.push_back(node);
    parent = node;
  }
  return chain;
}

int64_t PrefixIndex::find_or_add(int64_t parent, std::span<const int32_t> tokens, uint64_t ns) {
  PKV_CHECK(int32_t(tokens.size()) == block_size_, InvalidArgument, "prefix index: a block has ",
            block_size_, " tokens, got ", tokens.size());
  PKV_CHECK(parent == kNoNode || nodes_.count(parent), InvalidArgument,
            "prefix index: unknown parent node ", parent);
  const uint64_t h = hash_(parent_hash(parent), tokens, ns);
  if (const int64_t node = find(h, parent, tokens, ns); node != kNoNode) return node;
  const int64_t id = next_id_++;
  Node n;
  n.hash = h;
  n.parent = parent;
  n.ns = ns;
  n.tokens.assign(tokens.begin(), tokens.end());
  n.blocks.assign(block_node_.size(), -1);
  nodes_.emplace(id, std::move(n));
  by_hash_.emplace(h, id);
  if (parent != kNoNode) ++nodes_.at(parent).children;
  return id;
}

int32_t PrefixIndex::block_of(int64_t node, int32_t group) const {
  return nodes_.at(node).blocks[group];
}

bool PrefixIndex::attach(int64_t node, int32_t group, int32_t block) {
  Node& n = nodes_.at(node);
  if (n.blocks[group] != -1 || block_node_[group][block] != kNoNode) return false;
  n.blocks[group] = block;
  block_node_[group][block] = node;
  ++cached_[group];
  return true;
}

bool PrefixIndex::detach(int32_t group, int32_t block) {
  const int64_t node = block_node_[group][block];
  if (node == kNoNode) return false;
  block_node_[group][block] = kNoNode;
  nodes_.at(node).blocks[group] = -1;
  --cached_[group];
  prune(node);
  return true;
}

void PrefixIndex::prune(int64_t node) {
  while (node != kNoNode) {
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return;
    const Node& n = it->second;
    if (n.children > 0 ||
        std::any_of(n.blocks.begin(), n.blocks.end(), [](int32_t b) { return b != -1; }))
      return;
    const int64_t parent = n.parent;
    auto [lo, hi] = by_hash_.equal_range(n.hash);
    for (auto h = lo; h != hi; ++h)
      if (h->second == node) {
        by_hash_.erase(h);
        break;
      }
    nodes_.erase(it);
    if (parent == kNoNode) return;
    --nodes_.at(parent).children;
    node = parent;
  }
}

void PrefixIndex::clear() {
  nodes_.clear();
  by_hash_.clear();
  for (auto& g : block_node_) std::fill(g.begin(), g.end(), kNoNode);
  std::fill(cached_.begin(), cached_.end(), 0);
}

void PrefixIndex::check_invariants() const {
  std::unordered_map<int64_t, int32_t> children;
  std::vector<int64_t> cached(block_node_.size(), 0);
  for (const auto& [id, n] : nodes_) {
    PKV_CHECK(n.parent == kNoNode || nodes_.count(n.parent), Internal, "node ", id,
              " has a dead parent ", n.parent);
    if (n.parent != kNoNode) ++children[n.parent];
    bool holds = n.children > 0;
    for (size_t g = 0; g < n.blocks.size(); ++g) {
      if (n.blocks[g] == -1) continue;
      holds = true;
      ++cached[g];
      PKV_CHECK(block_node_[g][n.blocks[g]] == id, Internal, "node ", id, " names block ",
                n.blocks[g], " of group ", g, " which maps elsewhere");
    }
    PKV_CHECK(holds, Internal, "node ", id, " holds no block and has no children");
  }
  for (const auto& [id, n] : nodes_)
    PKV_CHECK(n.children == (children.count(id) ? children.at(id) : 0), Internal, "node ", id,
              " counts ", n.children, " children");
  for (size_t g = 0; g < block_node_.size(); ++g) {
    PKV_CHECK(cached[g] == cached_[g], Internal, "group ", g, " caches ", cached[g],
              " blocks, counter says ", cached_[g]);
    for (size_t b = 0; b < block_node_[g].size(); ++b) {
      const int64_t node = block_node_[g][b];
      PKV_CHECK(node == kNoNode || (nodes_.count(node) && nodes_.at(node).blocks[g] == int32_t(b)),
                Internal, "block ", b, " of group ", g, " maps to node ", node, " which disagrees");
    }
  }
  PKV_CHECK(by_hash_.size() == nodes_.size(), Internal, "hash map has ", by_hash_.size(),
            " entries for ", nodes_.size(), " nodes");
}

}  // namespace pagedkv
