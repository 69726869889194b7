#pragma once
// CudaModelRunner: the engine's ModelRunner over a CausalLmCuda — weights, activations and the KV
// pool on the GPU; the scheduler, block tables and prefix cache stay on the host, as for the CPU
// runner. K/V default to bf16 (fp8 e4m3 on request).

#include "core/cuda/cuda_check.h"
#include "engine/cuda/sampler_cuda.h"
#include "engine/model_runner.h"
#include "model/cuda/causal_lm_cuda.h"

namespace pagedkv {

class CudaModelRunner final : public ModelRunner {
 public:
  explicit CudaModelRunner(CausalLmCuda model) : model_(std::move(model)) {}

  CausalLmCuda& model() { return model_; }
  int64_t vocab_size() const override { return model_.config().vocab_size; }
  int64_t max_model_len() const override { return model_.config().max_position_embeddings; }
  DType default_kv_dtype() const override { return DType::kBF16; }
  KvCacheConfig kv_cache_config(int32_t num_blocks, int32_t block_size,
                                DType kv_dtype) const override {
    return model_.kv_cache_config(num_blocks, block_size, kv_dtype);
  }
  KvStorageFactory kv_storage_factory() const override { return CausalLmCuda::make_storage; }
  std::optional<DeviceMemory> device_memory(int64_t rows) const override {
    size_t free = 0, total = 0;
    cuda_check(cudaMemGetInfo(&free, &total), "querying device memory");
    return DeviceMemory{int64_t(total), int64_t(free), model_.activation_bytes(rows)};
  }
  std::vector<float> prefill(KvCache& cache, SeqId seq, int64_t start,
                             std::span<const int32_t> tokens, bool all_logits) override {
    return model_.prefill_appended(cache, seq, start, tokens, all_logits);
  }
  std::vector<float> decode(KvCache& cache, std::span<const SeqId> seqs,
                            std::span<const int32_t> tokens) override {
    return model_.decode(cache, seqs, tokens);
  }
  bool samples_on_device() const override { return true; }
  std::vector<int32_t> decode_sample(KvCache& cache, std::span<const SeqId> seqs,
                                     std::span<const int32_t> tokens,
                                     std::span<const CounterDraw> draws) override {
    const float* logits = model_.decode_device_logits(cache, seqs, tokens);
    return sampler_.sample(logits, model_.config().vocab_size, draws, model_.stream());
  }

 private:
  CausalLmCuda model_;
  cuda::SamplerCuda sampler_;
};

}  // namespace pagedkv
