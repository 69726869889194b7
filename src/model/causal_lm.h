#pragma once
// A causal LM running over the paged KV cache: one generic decoder forward pass for every family,
// driven by ModelConfig (families/*.cc resolve what differs into it).
//
// prefill(seq, tokens): appends the tokens to seq in every layer group of the cache, writes each
// layer's K/V into the pool through the block tables, and attends causally within the layer's
// window / chunk, reading earlier tokens (e.g. prefix-cache blocks) from the pool in place.
// decode(seqs, tokens): one token per sequence, appended together; each layer calls the fused
// paged decode attention with its group's page list. Sliding and chunked groups release the
// blocks no later query can see when the cache appends (kv/attention_rule.h's retained range).
//
// All activations are f32; K/V are stored in the cache's dtype (f32 for exact HF comparison).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kv/kv_cache.h"
#include "model/attention_layer.h"
#include "model/forward_rows.h"
#include "model/model_config.h"
#include "model/model_weights.h"
#include "model/rope.h"

namespace pagedkv {

class CausalLm {
 public:
  CausalLm(ModelConfig config, ModelWeights weights);
  // config.json (or config_name) + safetensors of a Hugging Face checkpoint directory, or a
  // .gguf file (config from its metadata, tensors dequantized: gguf_checkpoint.h).
  static CausalLm load(const std::string& dir, const std::string& config_name = "config.json");

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  void set_decode_kernel(DecodeKernel k) { decode_kernel_ = k; }
  // The kernel decode will call for this model and a KV pool of dtype kv.
  DecodeKernel resolved_decode_kernel(DType kv) const;

  // The layer groups (one per distinct attention rule, in order of first layer) of a KvCache
  // that serves this model.
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
                                      std::span<const int32_t> tokens,
                                      bool all_logits = true) const;
  // One new token per sequence (each with >= 1 cached token), appended all or nothing (checked
  // with KvCache::blocks_for_decode first). Returns logits [B, V]. With the prefix cache on,
  // tokens are appended with their ids so the cache can publish full blocks.
  std::vector<float> decode(KvCache& cache, std::span<const SeqId> seqs,
                            std::span<const int32_t> tokens) const;

 private:
  // The decoder over rows already appended to the cache; logits of every row or the last one.
  std::vector<float> forward(KvCache& cache, const ForwardRows& rows,
                             std::span<const int32_t> tokens, bool all_logits) const;

  ModelConfig config_;
  ModelWeights weights_;
  std::vector<Rope> ropes_;  // [L]
  DecodeKernel decode_kernel_ = DecodeKernel::kAuto;
};

// The layer groups (one per distinct attention rule, in order of first layer) of a KvCache that
// serves a model of this config (the CPU and CUDA models share it).
KvCacheConfig kv_cache_config_for(const ModelConfig& config, int32_t num_blocks, int32_t block_size,
                                  DType dtype);

// Greedy generation: prefill then decode until max_new_tokens (a fresh cache sized for it).
std::vector<int32_t> generate_greedy(const CausalLm& model, std::span<const int32_t> prompt,
                                     int32_t max_new_tokens, int32_t block_size = 16);

}  // namespace pagedkv
