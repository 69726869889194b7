#pragma once
// KvCache: the paged KV cache of one model — per layer group an allocator, a storage and one
// block table per sequence — with all-or-nothing operations across groups.
//
// Decision: every layer group has its OWN BlockAllocator and KvStorage. Groups differ in how many
// blocks a sequence needs (a sliding group holds at most ceil(W / bs) + 1 per sequence, a full
// group grows without bound), may differ in geometry, and a block id of one group names K/V of
// that group's layers only. Separate pools keep every id meaningful in exactly one storage and let
// each group be sized for its own working set; the cost is that a group's spare blocks cannot
// serve another group (vLLM's hybrid allocator shares one pool, which needs equal page sizes).
//
// Typical decode step of a model:
//   cache.append(seq, 1);                                  // every group, all or nothing
//   for each layer: cache.write(seq, layer, pos, k, v);    // copy-on-write if shared
//   PageList pages = cache.page_list(group, batch_seqs);   // CSR for the kernels
//   KvLayerView kv = cache.layer_view(layer);

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "kv/block_allocator.h"
#include "kv/block_table.h"
#include "kv/kv_storage.h"
#include "kv/layer_group.h"
#include "kv/page_list.h"
#include "kv/prefix_index.h"

namespace pagedkv {

using SeqId = int64_t;

struct KvGroupConfig {
  LayerGroupSpec spec;  // rule + model layer ids
  KvGeometry geometry;  // num_layers is taken from spec.layers.size()
  int32_t budget_blocks = BlockAllocator::kNone;
};

struct KvCacheConfig {
  std::vector<KvGroupConfig> groups;
  // Prefix cache (kv_cache_prefix.cc): needs one block size across groups.
  bool enable_prefix_cache = false;
  BlockHashFn block_hash = default_block_hash;

  // Every group with the same geometry and pool size.
  static KvCacheConfig uniform(std::vector<LayerGroupSpec> specs, int32_t num_blocks,
                               int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
                               DType dtype);
};

struct PrefixCacheMetrics {
  int64_t queries = 0;       // prompts looked up by add_prompt
  int64_t query_tokens = 0;  // their tokens
  int64_t hits = 0;          // prompts with a hit of >= 1 block
  int64_t hit_tokens = 0;    // tokens served from the cache
  int64_t evictions = 0;     // cached blocks whose hash was dropped to reuse the block
  int64_t resets = 0;
  int64_t cached_blocks = 0;  // blocks currently cached, all groups (in use or free)
};

// A prefix-cache hit: usable cached tokens and, per group, the blocks that back them.
struct PrefixHit {
  int64_t num_tokens = 0;                    // a multiple of the block size, <= prompt - 1
  std::vector<int64_t> released;             // [group]: leading blocks the rule does not need
  std::vector<std::vector<int32_t>> blocks;  // [group]: cached blocks to hold, oldest first
};

// Makes a group's storage; the default keeps host memory. A CUDA build passes a device factory.
using KvStorageFactory = std::function<std::unique_ptr<KvStorage>(const KvGeometry&)>;

// Not thread-safe: one engine thread drives it (kernels only read the views it hands out).
class KvCache {
 public:
  // Host bytes of bookkeeping one block may cost (allocator, block tables, prefix index): an
  // upper bound checked against free memory before the pool is built.
  static constexpr int64_t kMetadataBytesPerBlock = 64;
  // Error(OutOfMemory) naming the pool when its bookkeeping or storage cannot fit, before any
  // of it is allocated.
  explicit KvCache(KvCacheConfig config, KvStorageFactory make_storage = make_host_kv_storage);
  // Allocator hooks point into this object: it stays where it was built.
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int32_t num_groups() const { return int32_t(groups_.size()); }
  int32_t num_layers() const { return int32_t(layer_group_.size()); }
  int32_t group_of_layer(int32_t layer) const;
  const LayerGroupSpec& group_spec(int32_t group) const;
  const KvGeometry& geometry(int32_t group) const;
  const BlockAllocator& allocator(int32_t group) const;
  BlockAllocator& allocator(int32_t group);
  const KvStorage& storage(int32_t group) const;
  KvStorage& storage(int32_t group);

  // Sequences. Ids are the caller's (request ids); each must be new when added or forked.
  void add_sequence(SeqId seq);
  bool has_sequence(SeqId seq) const { return seqs_.count(seq) != 0; }
  std::vector<SeqId> sequences() const;  // sorted
  int64_t num_tokens(SeqId seq) const;
  const BlockTable& table(int32_t group, SeqId seq) const;

  // Append n >= 1 token positions in every group (slide windows, copy shared tails, allocate).
  // Returns the first new position. All or nothing across groups.
  bool can_append(SeqId seq, int64_t n) const;
  int64_t append(SeqId seq, int64_t n);
  // child shares every block of parent in every group; nothing is copied or allocated.
  void fork(SeqId parent, SeqId child);
  // Release every block of seq (newest first) and forget it.
  void release(SeqId seq);

  // Store the K/V of one token of one layer: host [Hkv, D] arrays. Copies the block first when
  // it is shared (copy-on-write). Error if pos was never appended or was released.
  void write(SeqId seq, int32_t layer, int64_t pos, const void* k, const void* v, DType src);
  void write(SeqId seq, int32_t layer, int64_t pos, const float* k, const float* v) {
    write(seq, layer, pos, k, v, DType::kF32);
  }
  // Where a kernel may store position pos of seq in a group's storage (every layer of the
  // group): copies the block first if it is shared and unpublishes it from the prefix cache, as
  // write() does. For models that write K/V on the device themselves (slot mapping).
  TokenSlot slot_for_write(SeqId seq, int32_t group, int64_t pos);
  void read(SeqId seq, int32_t layer, int64_t pos, float* k, float* v) const;
  TokenSlot locate(int32_t group, SeqId seq, int64_t pos) const;

  // --- Check-then-act block accounting: how many blocks an operation would take from each
  // group's free queue ([num_groups]), asked before anything changes. Callers compare against
  // fits(); the operation itself makes the same count.
  // Decode: one token appended to each of seqs takes a new tail block where one fills and a copy
  // of a shared partial tail. Blocks the appends would release are not credited, so the batch
  // fits in any append order when fits() holds.
  std::vector<int64_t> blocks_for_decode(std::span<const SeqId> seqs) const;
  // Admission (add_prompt): fresh blocks for the prompt's uncached rest plus the hit's cached
  // blocks that sit free in the queue (cached blocks in use are only shared).
  std::vector<int64_t> blocks_to_admit(std::span<const int32_t> prompt, uint64_t ns = 0) const;
  std::vector<int64_t> blocks_to_admit(const PrefixHit& hit, int64_t prompt_len) const;
  // Whether every group can hand out blocks[g] more blocks now.
  bool fits(std::span<const int64_t> blocks) const;
  // Whether one sequence growing to num_tokens (plus one copy-on-write of its tail, as a forked
  // sample makes) fits each group's empty pool (budget included): else it could never run.
  bool fits_empty_pool(int64_t num_tokens) const;

  // The CSR page list of `seqs` (each with >= 1 token) in one group, for their next queries.
  PageList page_list(int32_t group, std::span<const SeqId> seqs) const;
  KvLayerView layer_view(int32_t layer) const;

  // --- Prefix cache (issue 4; kv_cache_prefix.cc). Sequences added with their token ids can
  // reuse and publish full blocks. Flow: hit = add_prompt(seq, prompt); compute and write
  // positions [hit, prompt.size()); cache_full_blocks(seq); per decode step append_tokens(seq,
  // {token}), write, cache_full_blocks(seq).
  bool prefix_cache_enabled() const { return prefix_ != nullptr; }
  // The longest usable hit for a prompt (no allocation, no metrics). Capped so that at least the
  // prompt's last token is recomputed; agreed across groups (each group's rule, layer_group.h).
  PrefixHit lookup(std::span<const int32_t> prompt, uint64_t ns = 0) const;
  // Add a sequence holding `prompt`: cached blocks are reused (taken out of the free queue if
  // free), the rest is allocated. Returns the number of cached tokens. All or nothing.
  int64_t add_prompt(SeqId seq, std::span<const int32_t> prompt, uint64_t ns = 0);
  // Append tokens whose ids are known (so their blocks can be cached once full).
  int64_t append_tokens(SeqId seq, std::span<const int32_t> tokens);
  // Publish every full block of seq whose token ids are known (call after writing their K/V).
  // Returns the number of blocks newly cached. O(full blocks) when a new block has filled.
  int32_t cache_full_blocks(SeqId seq);
  // Forget every cached block. Refused (InvalidArgument) while any block is in use.
  void reset_prefix_cache();
  PrefixCacheMetrics prefix_metrics() const;
  const PrefixIndex* prefix_index() const { return prefix_.get(); }

  AllocatorMetrics metrics(int32_t group) const { return allocator(group).metrics(); }
  // Allocator invariants, plus: each block's ref count equals the number of table entries that
  // name it. Throws Error(Internal). O(blocks + table entries).
  void check_invariants() const;
  // Allocator state and every table as text: equal strings mean equal bookkeeping (tests).
  std::string debug_string() const;

 private:
  struct Group {
    LayerGroupSpec spec;
    std::unique_ptr<BlockAllocator> alloc;
    std::unique_ptr<KvStorage> storage;
  };
  struct Sequence {
    std::vector<BlockTable> tables;  // [num_groups]
    std::vector<int32_t> tokens;     // known token ids (a prefix of the positions)
    uint64_t ns = 0;                 // prefix-cache namespace key
    int64_t published_blocks = 0;    // full blocks cache_full_blocks has walked
  };
  void check_group(int32_t group) const;
  const Sequence& sequence(SeqId seq, const char* what) const;
  Sequence& sequence(SeqId seq, const char* what);

  std::vector<Group> groups_;
  std::vector<int32_t> layer_group_;  // [num_layers]: group of each model layer
  std::vector<int32_t> layer_local_;  // [num_layers]: the layer's index inside its group's storage
  std::unordered_map<SeqId, Sequence> seqs_;
  std::unique_ptr<PrefixIndex> prefix_;  // null when the prefix cache is off
  PrefixCacheMetrics prefix_metrics_;
};

}  // namespace pagedkv
