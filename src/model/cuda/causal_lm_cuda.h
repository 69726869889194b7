#pragma once
// CausalLmCuda: the CUDA twin of CausalLm (model/causal_lm.h) — the same ModelConfig, the same
// paged KvCache on the host (block tables, prefix cache), K/V in device storage — with bf16
// weights on the GPU, cuBLASLt GEMMs, fused elementwise kernels (model_kernels.h), the paged
// prefill kernel for prefill rows and the fused paged decode kernel for decode rows.
//
// Per forward pass the host builds the rows' metadata (token ids, positions, the slot of every
// row in every layer group, and each group's block list / CSR page list) into one pinned buffer
// and uploads it with one async copy; everything else stays on the device until the logits come
// back. The residual stream is f32; GEMM inputs and outputs bf16, accumulation f32; logits f32.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kv/kv_cache.h"
#include "model/cuda/device_weights.h"
#include "model/model_config.h"

namespace pagedkv {

class CausalLmCuda {
 public:
  // Error(Unsupported) naming the head dim when the GPU kernels do not take it (64, 128, 256).
  CausalLmCuda(ModelConfig config, cuda::DeviceWeights weights);
  ~CausalLmCuda();
  CausalLmCuda(CausalLmCuda&&) noexcept;
  CausalLmCuda& operator=(CausalLmCuda&&) noexcept;

  // config.json (or config_name) + safetensors of a Hugging Face checkpoint directory.
  static CausalLmCuda load(const std::string& dir, const std::string& config_name = "config.json",
                           const cuda::LoadProgress& progress = {});
  // A model with random bf16 weights made on the device from `seed` (benchmarks).
  static CausalLmCuda random(ModelConfig config, uint64_t seed);

  const ModelConfig& config() const;
  int64_t weight_bytes() const;
  // Device memory the activations of a pass of `rows` rows take (what a KV budget leaves free).
  int64_t activation_bytes(int64_t rows) const;
  // Layer groups as the CPU model has them; K/V dtype bf16 (default) or fp8 e4m3.
  KvCacheConfig kv_cache_config(int32_t num_blocks, int32_t block_size,
                                DType dtype = DType::kBF16) const;
  // Device storage for the cache's groups (pass to KvCache's constructor).
  static std::unique_ptr<KvStorage> make_storage(const KvGeometry& geometry);

  // As CausalLm: logits [T, V] (or [1, V]), [B, V], f32 on the host.
  std::vector<float> prefill(KvCache& cache, SeqId seq, std::span<const int32_t> tokens,
                             bool all_logits = true);
  std::vector<float> prefill_appended(KvCache& cache, SeqId seq, int64_t start,
                                      std::span<const int32_t> tokens, bool all_logits = true);
  std::vector<float> decode(KvCache& cache, std::span<const SeqId> seqs,
                            std::span<const int32_t> tokens);
  // decode() without the copy to the host: device f32 [B, V] (row stride V), valid until the
  // next call, ready once stream()'s queued work is (a sampler queues behind it).
  const float* decode_device_logits(KvCache& cache, std::span<const SeqId> seqs,
                                    std::span<const int32_t> tokens);
  cudaStream_t stream() const;

  // Decode steps of a dense model replay CUDA graphs (model/cuda/decode_graphs.h) unless turned
  // off here or by PAGEDKV_CUDA_GRAPHS=0; MoE models always run eagerly.
  void set_cuda_graphs(bool on);
  bool cuda_graphs() const;
  int64_t graph_replays() const;  // decode steps that ran from a graph so far

  // Batch-invariant mode (off by default; PAGEDKV_BATCH_INVARIANT=1 turns it on at load): a row's
  // logits get the same bits whatever else shares its pass — other requests, padding, how its
  // prompt was chunked, and whether its tokens were decoded or recomputed after a preemption — so
  // greedy tokens in a busy engine equal those of each request alone. How: every matrix product
  // of a weight shape runs one cuBLASLt configuration without split-K (Gemm::set_batch_invariant)
  // and decode attention runs the prefill kernel (absolute key tiles, no split). The norms,
  // rotary, activation and sampling kernels are per row already. Costs decode speed (run `pagedkv
  // demo --device cuda` or the model benchmark with PAGEDKV_BATCH_INVARIANT=1 to see how much).
  void set_batch_invariant(bool on);
  bool batch_invariant() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pagedkv
