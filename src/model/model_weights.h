#pragma once
// The weights of one causal LM, named by their role in the forward pass. Matrices keep the
// checkpoint's precision (bf16 stays bf16, packed for the dense kernel; anything else — f32, f16,
// dequantized GGUF — is f32, so the model computes what HF computes on those weights); norms and
// biases are f32. Loading reads the HF names the config gives
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

class TensorSource;

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
  SharedMatrix embed;                // [V, H] (rows looked up by token)
  std::vector<LayerWeights> layers;  // [L]
  std::vector<float> final_norm;     // [H]
  Linear lm_head;                    // [V, H] (the same matrix as embed when tied)
};

// The checkpoint names of a model's tensors, from ModelConfig::names (shared by the CPU loader and
// the CUDA one, model/cuda/device_weights.h). Projections and MLPs are prefixes: + ".weight" /
// ".bias", + ".gate_proj" / ".up_proj" / ".down_proj". An empty name: the model has no such tensor.
// A text model inside a *ForConditionalGeneration container keeps the same names under another
// prefix: "language_model.model." + "language_model.lm_head.weight" (Hub checkpoints of Gemma 3 and
// Llama 4, and Llama 4 as transformers 5 saves it) or "model.language_model." + "lm_head.weight"
// (Gemma 3 as transformers 5 saves it).
struct ModelTensorNames {
  std::string prefix = "model.";  // of the decoder: embed_tokens, layers.<i>., norm
  std::string embed = "model.embed_tokens.weight";
  std::string final_norm = "model.norm.weight";
  std::string lm_head = "lm_head.weight";  // read unless the embeddings are tied

  static ModelTensorNames with_prefix(const std::string& prefix, const std::string& lm_head);
};
// The names a checkpoint uses for this config: the plain layout, or for a container config
// (ModelConfig::container) whichever container layout holds the embeddings. NotFound naming the
// candidates when none does.
ModelTensorNames model_tensor_names(const ModelConfig& config, const TensorSource& source);
struct LayerTensorNames {
  std::string attn_norm, attn_out_norm, mlp_norm, mlp_out_norm;  // full names
  std::string q, k, v, o;                                        // projection prefixes
  std::string q_norm, k_norm;                                    // full names (learned q/k norms)
  std::string mlp;  // dense MLP prefix (empty on MoE layers)
  std::string moe;  // MoE prefix: .router, .experts.gate_up_proj, .experts.down_proj,
                    // .shared_expert (empty on dense layers)
};
LayerTensorNames layer_tensor_names(const ModelConfig& config, const ModelTensorNames& names,
                                    int64_t layer);

// Error(Corrupt) unless the checkpoint holds tensors of exactly config.num_layers layers
// (<prefix>layers.<i>.*): more layers in the config would fail on a missing tensor only after
// allocating, fewer would silently ignore the checkpoint's last layers.
void check_layer_count(const TensorSource& source, const ModelConfig& config,
                       const ModelTensorNames& names);

// Every tensor's presence, shape and finiteness (no NaN / Inf) is checked as it is read.
ModelWeights load_model_weights(const TensorSource& source, const ModelConfig& config);

}  // namespace pagedkv
