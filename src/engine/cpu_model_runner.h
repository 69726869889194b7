#pragma once
// CpuModelRunner: the engine's ModelRunner over a CausalLm (f32 activations, the CPU decode
// kernels). It owns the model or borrows one that outlives it.

#include <memory>

#include "engine/model_runner.h"
#include "model/causal_lm.h"

namespace pagedkv {

class CpuModelRunner final : public ModelRunner {
 public:
  explicit CpuModelRunner(const CausalLm& model) : model_(model) {}
  explicit CpuModelRunner(CausalLm&& model)
      : owned_(std::make_unique<CausalLm>(std::move(model))), model_(*owned_) {}

  const CausalLm& model() const { return model_; }

  int64_t vocab_size() const override { return model_.config().vocab_size; }
  int64_t max_model_len() const override { return model_.config().max_position_embeddings; }
  DType default_kv_dtype() const override { return DType::kF32; }  // exact HF comparison
  KvCacheConfig kv_cache_config(int32_t num_blocks, int32_t block_size,
                                DType kv_dtype) const override {
    return model_.kv_cache_config(num_blocks, block_size, kv_dtype);
  }
  std::vector<float> prefill(KvCache& cache, SeqId seq, int64_t start,
                             std::span<const int32_t> tokens, bool all_logits) override {
    return model_.prefill_appended(cache, seq, start, tokens, all_logits);
  }
  std::vector<float> decode(KvCache& cache, std::span<const SeqId> seqs,
                            std::span<const int32_t> tokens) override {
    return model_.decode(cache, seqs, tokens);
  }

 private:
  std::unique_ptr<CausalLm> owned_;
  const CausalLm& model_;
};

}  // namespace pagedkv
