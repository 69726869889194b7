#pragma once
// Synthetic Llama-3-shaped models with seeded random weights (random_weights.h: fan-in scaled, so
// activations stay O(1) and logits are spread out, no near-ties that would make greedy decoding
// fragile): the engine demo and benchmarks run on them without downloading a checkpoint. The same
// spec gives bit-identical weights in every build with the same standard library (Rng uses
// std::normal_distribution, whose algorithm the standard leaves to the library).

#include <cstdint>

#include "model/causal_lm.h"
#include "model/model_config.h"

namespace pagedkv {

struct SyntheticModelSpec {
  int64_t vocab_size = 512;
  int64_t hidden_size = 128;
  int64_t intermediate_size = 384;
  int64_t num_layers = 4;
  int64_t num_heads = 2;
  int64_t num_kv_heads = 1;
  int64_t head_dim = 64;
  double rope_theta = 10000.0;
  uint64_t seed = 1234;

  // The demo's model: ~0.9 M parameters, fast enough to serve 64 requests in seconds on 2 cores.
  static SyntheticModelSpec small();
  // 100.1 M parameters (hidden 768, 12 layers, 12 query / 4 kv heads of 64, MLP 2048, vocab
  // 16000, untied lm_head): the benchmark's "real-sized" model, 400 MB of f32 weights.
  static SyntheticModelSpec medium_100m();
  // Llama-3.2-1B-shaped (hidden 2048, 16 layers, 32 query / 8 kv heads of 64, MLP 8192, vocab
  // 128256; lm_head untied: 1.50 B parameters): the GPU demo's model, 3 GB of bf16 weights.
  static SyntheticModelSpec llama_1b();

  int64_t num_parameters() const;
};

// A Llama 3 ModelConfig with full attention in every layer and default RoPE.
ModelConfig synthetic_model_config(const SyntheticModelSpec& spec);
// The model with random_model_weights drawn from Rng(spec.seed).
CausalLm make_synthetic_model(const SyntheticModelSpec& spec);

}  // namespace pagedkv
