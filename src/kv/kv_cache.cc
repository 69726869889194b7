#include "kv/kv_cache.h"

#include <algorithm>

#include "core/error.h"
#include "core/host_memory.h"

namespace pagedkv {

KvCacheConfig KvCacheConfig::uniform(std::vector<LayerGroupSpec> specs, int32_t num_blocks,
                                     int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
                                     DType dtype) {
  KvCacheConfig config;
  for (LayerGroupSpec& spec : specs) {
    KvGroupConfig g;
    g.geometry = {
        int32_t(spec.layers.size()), num_blocks, block_size, num_kv_heads, head_dim, dtype};
    g.spec = std::move(spec);
    config.groups.push_back(std::move(g));
  }
  return config;
}

KvCache::KvCache(KvCacheConfig config, KvStorageFactory make_storage) {
  PKV_CHECK(!config.groups.empty(), InvalidArgument, "KV cache needs >= 1 layer group");
  int32_t total_layers = 0;
  for (const KvGroupConfig& g : config.groups) {
    PKV_CHECK(!g.spec.layers.empty(), InvalidArgument, "layer group without layers");
    total_layers += int32_t(g.spec.layers.size());
  }
  layer_group_.assign(total_layers, -1);
  layer_local_.assign(total_layers, -1);
  for (size_t gi = 0; gi < config.groups.size(); ++gi) {
    KvGroupConfig& g = config.groups[gi];
    g.spec.rule.validate();
    g.geometry.num_layers = int32_t(g.spec.layers.size());
    g.geometry.validate();
    for (size_t li = 0; li < g.spec.layers.size(); ++li) {
      const int32_t layer = g.spec.layers[li];
      PKV_CHECK(layer >= 0 && layer < total_layers, InvalidArgument, "layer id ", layer,
                " outside [0, ", total_layers, ") (groups must cover layers 0..L-1 once)");
      PKV_CHECK(layer_group_[layer] == -1, InvalidArgument, "layer ", layer,
                " appears in two layer groups");
      layer_group_[layer] = int32_t(gi);
      layer_local_[layer] = int32_t(li);
    }
  }
  // Sizes before anything is committed: the host-side bookkeeping of every block (allocator
  // lists and ref counts, block tables' and the prefix index's entries: well under
  // kMetadataBytesPerBlock) must fit, and each storage checks its own size before it allocates
  // (host: HostKvStorage; device: the CUDA storage against the card), so --num-blocks 2147483647
  // is one clear error, not a bad_alloc after gigabytes of allocator lists.
  int64_t metadata = 0;
  for (const KvGroupConfig& g : config.groups)
    metadata += int64_t(g.geometry.num_blocks) * kMetadataBytesPerBlock;
  check_host_allocation(
      metadata, str_cat("the KV pool's block bookkeeping (", config.groups[0].geometry.num_blocks,
                        " blocks x ", config.groups.size(), " layer groups)"));
  for (KvGroupConfig& g : config.groups) {
    Group group;
    group.storage = make_storage(g.geometry);
    PKV_CHECK(group.storage != nullptr, InvalidArgument, "storage factory returned null");
    group.alloc =
        std::make_unique<BlockAllocator>(g.geometry.num_blocks, g.geometry.bytes_per_block());
    group.alloc->set_budget(g.budget_blocks);
    group.spec = std::move(g.spec);
    groups_.push_back(std::move(group));
  }
  if (config.enable_prefix_cache) {
    std::vector<int32_t> blocks;
    for (const Group& g : groups_) {
      PKV_CHECK(g.storage->geometry().block_size == groups_[0].storage->geometry().block_size,
                Unsupported, "the prefix cache needs one block size across layer groups");
      blocks.push_back(g.alloc->num_blocks());
    }
    prefix_ = std::make_unique<PrefixIndex>(
        std::move(blocks), groups_[0].storage->geometry().block_size, config.block_hash);
    // Lazy eviction: a cached free block keeps its hash until allocate() hands it out again.
    for (int32_t gi = 0; gi < num_groups(); ++gi)
      groups_[gi].alloc->set_on_reuse([this, gi](int32_t block) {
        if (prefix_->detach(gi, block)) ++prefix_metrics_.evictions;
      });
  }
}

void KvCache::check_group(int32_t group) const {
  PKV_CHECK(group >= 0 && group < num_groups(), InvalidArgument, "layer group ", group,
            " outside [0, ", num_groups(), ")");
}

int32_t KvCache::group_of_layer(int32_t layer) const {
  PKV_CHECK(layer >= 0 && layer < num_layers(), InvalidArgument, "layer ", layer, " outside [0, ",
            num_layers(), ")");
  return layer_group_[layer];
}

const LayerGroupSpec& KvCache::group_spec(int32_t g) const {
  check_group(g);
  return groups_[g].spec;
}
const KvGeometry& KvCache::geometry(int32_t g) const {
  check_group(g);
  return groups_[g].storage->geometry();
}
const BlockAllocator& KvCache::allocator(int32_t g) const {
  check_group(g);
  return *groups_[g].alloc;
}
BlockAllocator& KvCache::allocator(int32_t g) {
  check_group(g);
  return *groups_[g].alloc;
}
const KvStorage& KvCache::storage(int32_t g) const {
  check_group(g);
  return *groups_[g].storage;
}
KvStorage& KvCache::storage(int32_t g) {
  check_group(g);
  return *groups_[g].storage;
}

std::vector<int64_t> KvCache::blocks_for_decode(std::span<const SeqId> seqs) const {
  std::vector<int64_t> need(num_groups(), 0);
  for (SeqId seq : seqs) {
    const Sequence& s = sequence(seq, "blocks_for_decode");
    for (int32_t g = 0; g < num_groups(); ++g)
      need[g] += s.tables[g].plan_append(*groups_[g].alloc, 1).needed();
  }
  return need;
}

bool KvCache::fits(std::span<const int64_t> blocks) const {
  PKV_CHECK(int64_t(blocks.size()) == num_groups(), InvalidArgument, "fits: ", blocks.size(),
            " counts for ", num_groups(), " layer groups");
  for (int32_t g = 0; g < num_groups(); ++g)
    if (blocks[g] > groups_[g].alloc->available()) return false;
  return true;
}

bool KvCache::fits_empty_pool(int64_t num_tokens) const {
  for (const Group& g : groups_) {
    const int64_t bs = g.storage->geometry().block_size;
    const int64_t cap =
        g.alloc->budget() == BlockAllocator::kNone ? g.alloc->num_blocks() : g.alloc->budget();
    if ((num_tokens + bs - 1) / bs + 1 > cap) return false;
  }
  return true;
}

const KvCache::Sequence& KvCache::sequence(SeqId seq, const char* what) const {
  auto it = seqs_.find(seq);
  PKV_CHECK(it != seqs_.end(), InvalidArgument, what, ": unknown sequence ", seq);
  return it->second;
}

KvCache::Sequence& KvCache::sequence(SeqId seq, const char* what) {
  auto it = seqs_.find(seq);
  PKV_CHECK(it != seqs_.end(), InvalidArgument, what, ": unknown sequence ", seq);
  return it->second;
}

void KvCache::add_sequence(SeqId seq) {
  PKV_CHECK(!has_sequence(seq), InvalidArgument, "add_sequence: sequence ", seq, " exists");
  Sequence s;
  for (const Group& g : groups_)
    s.tables.emplace_back(g.spec.rule, g.storage->geometry().block_size);
  seqs_.emplace(seq, std::move(s));
}

std::vector<SeqId> KvCache::sequences() const {
  std::vector<SeqId> out;
  out.reserve(seqs_.size());
  for (const auto& [id, s] : seqs_) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

int64_t KvCache::num_tokens(SeqId seq) const {
  return sequence(seq, "num_tokens").tables[0].num_tokens();
}

const BlockTable& KvCache::table(int32_t group, SeqId seq) const {
  check_group(group);
  return sequence(seq, "table").tables[group];
}

bool KvCache::can_append(SeqId seq, int64_t n) const {
  const Sequence& s = sequence(seq, "can_append");
  if (n < 1) return false;
  for (int32_t g = 0; g < num_groups(); ++g)
    if (!s.tables[g].can_append(*groups_[g].alloc, n)) return false;
  return true;
}

int64_t KvCache::append(SeqId seq, int64_t n) {
  Sequence& s = sequence(seq, "append");
  PKV_CHECK(n >= 1, InvalidArgument, "append needs n >= 1 tokens, got ", n);
  // Validate every group before touching any (groups have separate pools, so checks are exact).
  for (int32_t g = 0; g < num_groups(); ++g) {
    const BlockTable::AppendPlan plan = s.tables[g].plan_append(*groups_[g].alloc, n);
    PKV_CHECK(plan.needed() <= groups_[g].alloc->available() + plan.freed, OutOfMemory,
              "cannot append ", n, " tokens to sequence ", seq, ": layer group ", g, " (",
              groups_[g].spec.rule.describe(), ") needs ", plan.needed(), " blocks (",
              plan.new_blocks, " new, ", plan.copy_tail, " copy-on-write), ",
              groups_[g].alloc->available(), " available, ", plan.freed, " freed by its rule");
  }
  const int64_t first = s.tables[0].num_tokens();
  for (int32_t g = 0; g < num_groups(); ++g)
    s.tables[g].append(*groups_[g].alloc, *groups_[g].storage, n);
  return first;
}

void KvCache::fork(SeqId parent, SeqId child) {
  const Sequence& p = sequence(parent, "fork");
  PKV_CHECK(!has_sequence(child), InvalidArgument, "fork: child sequence ", child, " exists");
  Sequence c;
  c.tokens = p.tokens;
  c.ns = p.ns;
  c.published_blocks = p.published_blocks;
  for (int32_t g = 0; g < num_groups(); ++g)
    c.tables.push_back(p.tables[g].fork(*groups_[g].alloc));
  seqs_.emplace(child, std::move(c));
}

void KvCache::release(SeqId seq) {
  Sequence& s = sequence(seq, "release");
  for (int32_t g = 0; g < num_groups(); ++g) s.tables[g].release_all(*groups_[g].alloc);
  seqs_.erase(seq);
}

TokenSlot KvCache::slot_for_write(SeqId seq, int32_t group, int64_t pos) {
  check_group(group);
  BlockTable& t = sequence(seq, "write").tables[group];
  t.make_writable(*groups_[group].alloc, *groups_[group].storage, pos);  // validates pos first
  const TokenSlot at = t.locate(pos);
  // Rewriting a published block in place would change what its hash promises: unpublish it.
  if (prefix_) prefix_->detach(group, at.block);
  return at;
}

void KvCache::write(SeqId seq, int32_t layer, int64_t pos, const void* k, const void* v,
                    DType src) {
  const int32_t g = group_of_layer(layer);
  sequence(seq, "write");
  PKV_CHECK(k != nullptr && v != nullptr, InvalidArgument, "write: null K or V");
  const TokenSlot at = slot_for_write(seq, g, pos);
  groups_[g].storage->write_token(layer_local_[layer], at.block, at.slot, k, v, src);
}

void KvCache::read(SeqId seq, int32_t layer, int64_t pos, float* k, float* v) const {
  const int32_t g = group_of_layer(layer);
  const TokenSlot at = sequence(seq, "read").tables[g].locate(pos);
  groups_[g].storage->read_token(layer_local_[layer], at.block, at.slot, k, v);
}

TokenSlot KvCache::locate(int32_t group, SeqId seq, int64_t pos) const {
  return table(group, seq).locate(pos);
}

PageList KvCache::page_list(int32_t group, std::span<const SeqId> seqs) const {
  check_group(group);
  PKV_CHECK(!seqs.empty(), InvalidArgument, "page list of an empty batch");
  for (SeqId id : seqs)
    PKV_CHECK(sequence(id, "page_list").tables[group].num_tokens() >= 1, InvalidArgument,
              "page list: sequence ", id, " has no tokens");
  PageList out;
  for (SeqId id : seqs) sequence(id, "page_list").tables[group].append_visible_pages(out);
  return out;
}

KvLayerView KvCache::layer_view(int32_t layer) const {
  const int32_t g = group_of_layer(layer);
  return groups_[g].storage->layer_view(layer_local_[layer]);
}

void KvCache::check_invariants() const {
  if (prefix_) prefix_->check_invariants();
  for (int32_t g = 0; g < num_groups(); ++g) {
    const BlockAllocator& alloc = *groups_[g].alloc;
    alloc.check_invariants();
    std::vector<int32_t> refs(alloc.num_blocks(), 0);
    for (const auto& [id, s] : seqs_) {
      const BlockTable& t = s.tables[g];
      const int64_t logical = (t.num_tokens() + t.block_size() - 1) / t.block_size();
      PKV_CHECK(int64_t(t.blocks().size()) + t.num_released() == logical, Internal, "sequence ", id,
                " group ", g, " holds ", t.blocks().size(), " blocks + ", t.num_released(),
                " released for ", t.num_tokens(), " tokens");
      for (int32_t b : t.blocks()) {
        PKV_CHECK(alloc.valid(b), Internal, "sequence ", id, " names invalid block ", b);
        ++refs[b];
      }
    }
    for (int32_t b = 0; b < alloc.num_blocks(); ++b)
      PKV_CHECK(refs[b] == alloc.ref_count(b), Internal, "group ", g, " block ", b,
                " has ref count ", alloc.ref_count(b), " but tables hold ", refs[b], " references");
  }
}

std::string KvCache::debug_string() const {
  std::string out;
  for (int32_t g = 0; g < num_groups(); ++g) {
    out += "group " + std::to_string(g) + " " + groups_[g].alloc->debug_string();
    if (prefix_) {
      out += " cached=[";
      for (int32_t b = 0; b < groups_[g].alloc->num_blocks(); ++b)
        if (prefix_->is_cached(g, b)) out += std::to_string(b) + ",";
      out += "]";
    }
    out += "\n";
    for (SeqId id : sequences()) {
      const BlockTable& t = seqs_.at(id).tables[g];
      out += "  seq " + std::to_string(id) + " tokens=" + std::to_string(t.num_tokens()) +
             " released=" + std::to_string(t.num_released()) + " blocks=[";
      for (int32_t b : t.blocks()) out += std::to_string(b) + ",";
      out += "]\n";
    }
  }
  return out;
}

}  // namespace pagedkv
