#pragma once
// The weights of a causal LM on the GPU: matrices in bf16, norm weights, biases and RoPE
// frequencies in f32 (tiny, and used in f32 math). Projections that read the same input are
// stored fused, so one GEMM computes them: q|k|v rows of the attention, gate|up rows of each
// MLP (gate first, the order of HF's fused gate_up). Loaded from the same safetensors as the CPU
// model (f32, bf16 or f16 in the file, one file or shards; names from model_weights.h), or made
// on the device from a seed (benchmark models).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cuda/device_buffer.h"
#include "model/model_config.h"

namespace pagedkv {

class TensorSource;

namespace cuda {

struct DeviceLinear {
  DeviceBuffer weight;  // bf16 [out, in] (nn.Linear layout)
  DeviceBuffer bias;    // f32 [out], or empty
  int64_t out = 0, in = 0;
};

struct DeviceMoe {
  DeviceLinear router;                       // [E, H]
  DeviceBuffer gate_up;                      // bf16 [E, H, 2I] (input-major, as HF stores it)
  DeviceBuffer down;                         // bf16 [E, I, H]
  DeviceLinear shared_gate_up, shared_down;  // [2I, H], [H, I]
};

struct DeviceLayer {
  DeviceBuffer attn_norm, attn_out_norm, mlp_norm, mlp_out_norm;  // f32 [H] or empty
  DeviceLinear qkv;                                               // [(Hq + 2 Hkv) D, H]
  DeviceLinear o;                                                 // [H, Hq D]
  DeviceBuffer q_norm, k_norm;                                    // f32 [D] or empty
  DeviceBuffer inv_freq;           // f32 [D / 2], empty on NoPE layers
  DeviceLinear gate_up, down;      // dense MLP: [2I, H], [H, I]
  std::unique_ptr<DeviceMoe> moe;  // MoE layers
};

struct DeviceWeights {
  DeviceBuffer embed;       // bf16 [V, H]
  DeviceBuffer final_norm;  // f32 [H]
  DeviceBuffer lm_head;     // bf16 [V, H], empty when tied (then embed is the head)
  std::vector<DeviceLayer> layers;
  int64_t bytes = 0;  // device bytes of all of the above

  const void* lm_head_weight() const { return lm_head.data() ? lm_head.data() : embed.data(); }
};

// Called while loading: bytes done and in all (the checkpoint's tensor bytes).
using LoadProgress = std::function<void(int64_t done, int64_t total)>;

// Every tensor checked for presence and shape like the CPU loader; values rounded to bf16
// (nearest even) where the file holds f32 or f16.
DeviceWeights load_device_weights(const TensorSource& store, const ModelConfig& config,
                                  const LoadProgress& progress = {});
// Normal(0, 1/sqrt(fan_in)) matrices, norm weights near their identity, from `seed`, made on the
// device (an 8B model in seconds, no host copy).
DeviceWeights random_device_weights(const ModelConfig& config, uint64_t seed);

}  // namespace cuda
}  // namespace pagedkv
