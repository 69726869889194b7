#pragma once
// The weights of one causal LM, f32 in memory (bf16/f16 checkpoints upcast once at load), laid out
// as HF names and shapes them. Loading checks every tensor's presence and shape against the
// config, so a wrong checkpoint fails at load with the file and tensor named, never mid-forward.

#include <memory>
#include <string>
#include <vector>

#include "model/linear.h"
#include "model/mlp.h"
#include "model/model_config.h"
#include "model/moe.h"

namespace pagedkv {

class TensorStore;

struct AttentionWeights {
  Linear q, k, v, o;          // q [Hq*D, H], k/v [Hkv*D, H], o [H, Hq*D]
  std::vector<float> q_norm;  // [D] (Qwen 3, Gemma 3)
  std::vector<float> k_norm;  // [D]
};

struct LayerWeights {
  std::vector<float> input_norm;      // [H]
  std::vector<float> post_attn_norm;  // [H]
  std::vector<float> pre_ff_norm;     // [H] Gemma 3 only
  std::vector<float> post_ff_norm;    // [H] Gemma 3 only
  AttentionWeights attn;
  GatedMlp mlp;                   // dense layers
  std::unique_ptr<MoeLayer> moe;  // Llama 4 MoE layers
};

struct ModelWeights {
  std::vector<float> embed;          // [V, H]
  std::vector<LayerWeights> layers;  // [L]
  std::vector<float> final_norm;     // [H]
  Linear lm_head;                    // [V, H] (a copy of embed when tied)
};

ModelWeights load_model_weights(const TensorStore& store, const ModelConfig& config);

}  // namespace pagedkv
