#pragma once
// A plain dense forward pass of a Llama-shaped decoder, kept apart from everything the engine
// runs so that it can check the engine end to end: no KV pool, block tables, paged or fused
// attention kernels, scheduler, sampler or SIMD matmul. Weights are unpacked once to row-major
// f32 (PackedMatrix::at), every dot product is a scalar loop accumulated in double, and each
// layer's keys and values sit in one contiguous array per layer. Slow (a few MFLOP/s) and meant
// for small models: the demo runs it on its built-in model.
//
// Supported: what the synthetic model uses — full attention, rotate-half RoPE of the default
// type, SiLU-gated MLP, plain RMSNorm before attention and MLP, optional q/k/v/o biases, no q/k
// norms, softcaps, embedding scale or MoE. Anything else is Error(Unsupported).

#include <cstdint>
#include <span>
#include <vector>

#include "model/model_config.h"
#include "model/model_weights.h"

namespace pagedkv {

// Greedy decoding (argmax, the lowest id wins ties): max_new_tokens ids after `prompt`.
std::vector<int32_t> reference_greedy(const ModelConfig& config, const ModelWeights& weights,
                                      std::span<const int32_t> prompt, int32_t max_new_tokens);

}  // namespace pagedkv
