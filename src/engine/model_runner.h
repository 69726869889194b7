#pragma once
// ModelRunner: how the engine runs a model — prefill and decode over a KvCache, logits out. The
// scheduler, block tables and prefix cache stay on the host whatever the runner; a runner only
// computes the positions the engine has placed in the cache (and, for decode, appends the one new
// token per sequence). CpuModelRunner (cpu_model_runner.h) runs a CausalLm on the CPU; a CUDA
// runner is a second implementation of this interface, not a fork of the engine.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/counter_sampler.h"
#include "kv/kv_cache.h"

namespace pagedkv {

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;

  virtual int64_t vocab_size() const = 0;
  // The context the model was trained for (config.json max_position_embeddings); 0: not known.
  virtual int64_t max_model_len() const = 0;
  // The KV dtype used when the engine config does not name one.
  virtual DType default_kv_dtype() const = 0;
  // The KV cache this model needs: its layer groups (one per attention rule) and geometry.
  virtual KvCacheConfig kv_cache_config(int32_t num_blocks, int32_t block_size,
                                        DType kv_dtype) const = 0;
  // A device runner's memory: what the device has, what is free now (weights loaded), and what a
  // pass of `rows` rows will still allocate (activations). nullopt: host memory (no budget).
  struct DeviceMemory {
    int64_t total_bytes = 0;
    int64_t free_bytes = 0;
    int64_t activation_bytes = 0;
  };
  virtual std::optional<DeviceMemory> device_memory(int64_t /*rows*/) const { return std::nullopt; }
  // Where the cache keeps K/V: host memory here; a device runner returns device storage.
  virtual KvStorageFactory kv_storage_factory() const { return make_host_kv_storage; }

  // Computes positions [start, start + T) of seq, already appended to the cache (with their
  // ids when the prefix cache is on). Returns logits [T, V], or [1, V] for the last token when
  // all_logits is false.
  virtual std::vector<float> prefill(KvCache& cache, SeqId seq, int64_t start,
                                     std::span<const int32_t> tokens, bool all_logits) = 0;
  // Appends one token per sequence (all or nothing: KvCache::blocks_for_decode must fit) and
  // returns logits [B, V].
  virtual std::vector<float> decode(KvCache& cache, std::span<const SeqId> seqs,
                                    std::span<const int32_t> tokens) = 0;

  // A runner whose logits live on a device samples there: the engine then draws every token of
  // its requests with the counter-based sampler (engine/counter_sampler.h) and asks the runner for
  // a decode step's tokens, not its B x V logits (unless a sequence wants log-probabilities).
  virtual bool samples_on_device() const { return false; }
  // decode(), then draws[i] on row i: the tokens (-1 for a row whose logits are not finite). This
  // default draws on the host.
  virtual std::vector<int32_t> decode_sample(KvCache& cache, std::span<const SeqId> seqs,
                                             std::span<const int32_t> tokens,
                                             std::span<const CounterDraw> draws) {
    const std::vector<float> logits = decode(cache, seqs, tokens);
    const size_t V = size_t(vocab_size());
    std::vector<int32_t> out;
    for (size_t i = 0; i < draws.size(); ++i)
      out.push_back(sample_counter(std::span<const float>(logits.data() + i * V, V), draws[i]));
    return out;
  }
};

}  // namespace pagedkv
