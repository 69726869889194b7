#pragma once
// The weights of one causal LM, f32 in memory (bf16/f16 checkpoints upcast once at load), named
// by their role in the forward pass. Loading reads the HF names the config gives
// (ModelConfig::names, set by the family file) and checks every tensor's presence and shape
// against the config, so a wrong checkpoint fails at load with the file and tensor named, never
// mid-forward.

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
  std::vector<float> q_norm;  // [D] (QkNorm::kLearnedBeforeRope)
  std::vector<float> k_norm;  // [D]
};

struct LayerWeights {
  std::vector<float> attn_norm;      // [H] before attention
  std::vector<float> attn_out_norm;  // [H] on attention's output, or empty
  std::vector<float> mlp_norm;       // [H] before the MLP
  std::vector<float> mlp_out_norm;   // [H] on the MLP's output, or empty
  AttentionWeights attn;
  GatedMlp mlp;                   // dense layers
  std::unique_ptr<MoeLayer> moe;  // MoE layers
};

struct ModelWeights {
  std::vector<float> embed;          // [V, H]
  std::vector<LayerWeights> layers;  // [L]
  std::vector<float> final_norm;     // [H]
  Linear lm_head;                    // [V, H] (a copy of embed when tied)
};

// The checkpoint names of a model's tensors, from ModelConfig::names (shared by the CPU loader and
// the CUDA one, model/cuda/device_weights.h). Projections and MLPs are prefixes: + ".weight" /
// ".bias", + ".gate_proj" / ".up_proj" / ".down_proj". An empty name: the model has no such tensor.
struct ModelTensorNames {
  std::string embed = "model.embed_tokens.weight";
  std::string final_norm = "model.norm.weight";
  std::string lm_head = "lm_head.weight";  // read unless the embeddings are tied
};
struct LayerTensorNames {
  std::string attn_norm, attn_out_norm, mlp_norm, mlp_out_norm;  // full names
  std::string q, k, v, o;                                        // projection prefixes
  std::string q_norm, k_norm;                                    // full names (learned q/k norms)
  std::string mlp;  // dense MLP prefix (empty on MoE layers)
  std::string moe;  // MoE prefix: .router, .experts.gate_up_proj, .experts.down_proj,
                    // .shared_expert (empty on dense layers)
};
LayerTensorNames layer_tensor_names(const ModelConfig& config, int64_t layer);

ModelWeights load_model_weights(const TensorStore& store, const ModelConfig& config);

}  // namespace pagedkv
