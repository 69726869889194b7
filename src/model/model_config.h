#pragma once
// ModelConfig: everything the forward pass needs to know about a model, as plain data. The family
// files (families/*.cc) read a Hugging Face config.json and resolve every family difference into
// these fields — per layer where layers differ — so the forward passes (CPU and CUDA) read data
// and never ask which family they run.
//
// Both config.json formats are read: the Hub 4.x one (rope_theta, rope_scaling,
// rope_local_base_freq, sliding_window_pattern, no layer_types) and the transformers 5 one
// (rope_parameters, possibly per layer type, layer_types). Absent keys take the defaults HF's
// config class of the family defines, so a checkpoint means the same thing here as in
// transformers.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kv/attention_rule.h"
#include "model/norms.h"

namespace pagedkv {

// kFrequencyBands: rope_type "llama3" (long wavelengths divided by factor, short kept, smooth
// between: Llama 3.1+, Llama 4).
enum class RopeType { kDefault, kLinear, kFrequencyBands };
// Which elements RoPE rotates together: i with i + D/2 (Llama 3, Qwen, Gemma 3, Mistral) or
// 2i with 2i + 1, complex pairs (Llama 4).
enum class RopeStyle { kRotateHalf, kInterleaved };
enum class Activation { kSilu, kGeluTanh };
// Per-head RMSNorm of q and k: none; learned weight before RoPE (Qwen 3, Gemma 3, with the
// config's norm weighting); weightless after RoPE on RoPE layers only (Llama 4 use_qk_norm).
enum class QkNorm { kNone, kLearnedBeforeRope, kWeightlessAfterRope };

struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double factor = 1.0;                   // linear / llama3
  double low_freq_factor = 1.0;          // llama3
  double high_freq_factor = 4.0;         // llama3
  double original_max_positions = 8192;  // llama3
};

struct LayerConfig {
  AttentionRule attention;          // full / sliding W / chunked C: which keys a query sees
  bool use_rope = true;             // Llama 4 NoPE layers: false
  RopeConfig rope;                  // this layer's RoPE (Gemma 3: local vs global bases)
  bool temperature_tuning = false;  // Llama 4 NoPE layers: q scaled by position (see below)
  bool moe = false;                 // mixture-of-experts MLP (Llama 4)
  int64_t mlp_size = 0;             // dense MLP width (intermediate size) when !moe
};

// HF names of a layer's tensors that differ between families, relative to model.layers.<i>.
// (model_weights.cc reads the rest by the common Llama layout: model.embed_tokens,
// self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm, ...). An empty norm name: the layer has none.
struct WeightNames {
  std::string attn_norm = "input_layernorm";          // before attention
  std::string attn_out_norm;                          // on attention's output (Gemma 3 sandwich)
  std::string mlp_norm = "post_attention_layernorm";  // before the MLP (Gemma 3: pre_feedforward)
  std::string mlp_out_norm;                           // on the MLP's output (Gemma 3 sandwich)
  std::string mlp = "mlp";                            // dense MLP module (Llama 4: feed_forward)
  std::string moe = "feed_forward";                   // MoE module (Llama 4 layout)
};

struct ModelConfig {
  std::string family;        // registry name: llama3, mistral, qwen2, qwen3, gemma3, llama4
  std::string architecture;  // config.json architectures[0] (or model_type)
  // The text model of a *ForConditionalGeneration container (Gemma 3, Llama 4): config from its
  // text_config, weights under a prefix (model_weights.h ModelTensorNames); vision ignored.
  bool container = false;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;  // the context it was trained for (0: not known)
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;

  // Blocks: pre-norm residual blocks (norms named in `names`; Gemma 3 adds "sandwich" norms on
  // each sublayer's output before the residual add).
  NormWeight norm_weight = NormWeight::kPlain;  // Gemma 3: (1 + w)
  double embed_scale = 1.0;                     // embeddings times this (Gemma 3: sqrt(hidden))
  Activation activation = Activation::kSilu;
  bool mlp_bias = false;

  // Attention.
  bool qkv_bias = false;     // q/k/v projections (Llama attention_bias, Qwen 2 always)
  bool o_bias = false;       // output projection (Llama attention_bias)
  double query_scale = 0.0;  // logit scale: head_dim^-0.5, Gemma 3 query_pre_attn_scalar^-0.5
  double attn_logit_softcap = 0.0;  // 0: none
  QkNorm qk_norm = QkNorm::kNone;
  RopeStyle rope_style = RopeStyle::kRotateHalf;
  // Temperature tuning of layers with temperature_tuning (Llama 4 NoPE layers): q is scaled by
  // 1 + attn_scale * log1p(floor((pos + 1) / floor_scale)).
  double floor_scale = 8192;
  double attn_scale = 0.1;

  // Mixture of experts (layers with moe): router top-k, experts and a shared expert of width
  // expert_size.
  int64_t num_experts = 0;
  int64_t experts_per_token = 0;
  int64_t expert_size = 0;

  double final_logit_softcap = 0.0;  // 0: none (Gemma 3 may set final_logit_softcapping)
  WeightNames names;
  std::vector<LayerConfig> layers;  // [num_layers]
};

// Parses a config.json document: finds the family by architecture (or model_type) in the
// registry (families/registry.cc) and lets it read the rest. Unknown architectures and
// unsupported RoPE types throw Error(Unsupported) naming them; malformed values Error(Corrupt).
ModelConfig parse_model_config(const nlohmann::json& j);
// config.json text (nesting bounded, core/json_depth.h) parsed as above; errors start with
// `where` (the file's path) instead of "config.json".
ModelConfig parse_model_config_text(std::string_view text, const std::string& where);
// Reads DIR/config_name (config.json unless told otherwise: tests read config_v5.json too): a
// regular file of at most kMaxConfigBytes.
inline constexpr size_t kMaxConfigBytes = size_t(16) << 20;
ModelConfig load_model_config(const std::string& dir,
                              const std::string& config_name = "config.json");

}  // namespace pagedkv
