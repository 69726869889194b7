#pragma once
// A causal LM of one of the four families running over the paged KV cache.
//
// prefill(seq, tokens): appends the tokens to seq in every layer group of the cache, writes each
// layer's K/V into the pool through the block tables, and attends causally within the layer's
// window / chunk, reading earlier tokens (e.g. prefix-cache blocks) from the pool in place.
// decode(seqs, tokens): one token per sequence, appended together; each layer calls the fused
// paged decode attention with its group's page list. Sliding and chunked groups release the
// blocks no later query can see when the cache appends (kv/layer_group.h's retained range).
//
// All activations are f32; K/V are stored in the cache's dtype (f32 for exact HF comparison).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kv/kv_cache.h"
#include "model/model_config.h"
#include "model/model_weights.h"
#include "model/rope.h"

namespace pagedkv {

// Which kernel decode calls. kAuto: the fused paged kernel (attention/paged_decode_cpu.h) when it
// supports the head dim and KV dtype, else the paged prefill kernel with one query per sequence
// (any head dim; the HF fixtures use head_dim 32). Both read the blocks in place.
// kGather: copy each sequence's visible blocks into a contiguous buffer, then dense attention
// (attention/decode_gather.h) — the baseline the fused kernel is benchmarked against.
enum class DecodeKernel { kAuto, kFusedPaged, kPagedPrefill, kGather };

class CausalLm {
 public:
  CausalLm(ModelConfig config, ModelWeights weights);
  // config.json (or config_name) + safetensors of a Hugging Face checkpoint directory.
  static CausalLm load(const std::string& dir, const std::string& config_name = "config.json");

  const ModelConfig& config() const { return config_; }
  void set_decode_kernel(DecodeKernel k) { decode_kernel_ = k; }
  // The kernel decode will call for this model and a KV pool of dtype kv.
  DecodeKernel resolved_decode_kernel(DType kv) const;

  // The layer groups (one per distinct attention rule) of a KvCache that serves this model.
  KvCacheConfig kv_cache_config(int32_t num_blocks, int32_t block_size,
                                DType dtype = DType::kF32) const;

  // Appends tokens (>= 1) to seq (already added to cache). Returns logits [T, V] for every token,
  // or [1, V] for the last one when all_logits is false.
  std::vector<float> prefill(KvCache& cache, SeqId seq, std::span<const int32_t> tokens,
                             bool all_logits = true) const;
  // Like prefill, for positions [start, start + T) that are already appended to seq (the prefix
  // cache's KvCache::add_prompt appends a whole prompt at admission, reusing cached blocks; the
  // engine then computes the uncached rest in chunks). Nothing is appended.
  std::vector<float> prefill_appended(KvCache& cache, SeqId seq, int64_t start,
                                      std::span<const int32_t> tokens, bool all_logits = true) const;
  // One new token per sequence (each with >= 1 cached token). Returns logits [B, V].
  // With the prefix cache on, prefill and decode append through KvCache::append_tokens so the
  // cache knows every position's token id and can publish full blocks.
  std::vector<float> decode(KvCache& cache, std::span<const SeqId> seqs,
                            std::span<const int32_t> tokens) const;

 private:
  // Validates prefill arguments before anything is appended (errors leave the cache as it was).
  void check_prefill(const KvCache& cache, SeqId seq, std::span<const int32_t> tokens) const;
  // Runs rows [start, start + T) of seq, already appended, through the model.
  std::vector<float> run_prefill(KvCache& cache, SeqId seq, int64_t start,
                                 std::span<const int32_t> tokens, bool all_logits) const;
  struct Batch;  // rows being computed: their sequences, positions, and which step kind
  void attention_layer(KvCache& cache, const Batch& b, int32_t layer, const float* x,
                       float* out) const;
  std::vector<float> run(KvCache& cache, const Batch& b, std::span<const int32_t> tokens,
                         bool all_logits) const;

  ModelConfig config_;
  ModelWeights weights_;
  std::vector<Rope> ropes_;  // [L]
  DecodeKernel decode_kernel_ = DecodeKernel::kAuto;
};

// Greedy generation: prefill then decode until max_new_tokens (a fresh cache sized for it).
std::vector<int32_t> generate_greedy(const CausalLm& model, std::span<const int32_t> prompt,
                                     int32_t max_new_tokens, int32_t block_size = 16);

}  // namespace pagedkv
