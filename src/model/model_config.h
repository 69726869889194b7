#pragma once
// The model description pagedkv needs, parsed from a Hugging Face config.json in either format:
// the Hub 4.x one (rope_theta, rope_scaling, rope_local_base_freq, sliding_window_pattern, no
// layer_types) or the transformers 5 one (rope_parameters, possibly per layer type, layer_types).
// Absent keys take the defaults HF's config class of the family defines, so a checkpoint means the
// same thing here as in transformers. Everything is resolved per layer, so the forward pass never
// looks at family-specific keys again.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace pagedkv {

enum class ModelFamily { kLlama3, kQwen3, kGemma3, kLlama4 };
const char* model_family_name(ModelFamily f);

enum class LayerKind { kFull, kSliding, kChunked };  // maps onto kv AttentionRule
enum class RopeType { kDefault, kLinear, kLlama3 };
enum class Activation { kSilu, kGeluTanh };

struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double factor = 1.0;                   // linear / llama3
  double low_freq_factor = 1.0;          // llama3
  double high_freq_factor = 4.0;         // llama3
  double original_max_positions = 8192;  // llama3
};

struct LayerConfig {
  LayerKind attention = LayerKind::kFull;
  int32_t window = 0;    // sliding: W keys including the query; chunked: chunk size C
  bool use_rope = true;  // Llama 4 NoPE layers: false
  RopeConfig rope;       // this layer's RoPE (Gemma 3: local vs global)
  bool moe = false;      // Llama 4 MoE layer
};

struct ModelConfig {
  ModelFamily family = ModelFamily::kLlama3;
  std::string architecture;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // dense MLP (Llama 4: the experts' and shared expert's)
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  bool mlp_bias = false;
  Activation activation = Activation::kSilu;
  double query_scale = 0.0;  // logit scale: head_dim^-0.5, Gemma 3 query_pre_attn_scalar^-0.5
  double final_logit_softcap = 0.0;  // 0: none (Gemma 3 may set final_logit_softcapping)
  double attn_logit_softcap = 0.0;   // 0: none
  // Qwen 3 / Gemma 3: learned per-head RMSNorm on q and k before RoPE.
  bool learned_qk_norm = false;
  // Llama 4.
  bool l2_qk_norm = false;            // weightless qk RMSNorm after RoPE on RoPE layers
  int64_t intermediate_size_mlp = 0;  // dense layers' MLP width
  int64_t num_experts = 0;
  int64_t experts_per_token = 0;
  bool attn_temperature_tuning = false;
  double floor_scale = 8192;
  double attn_scale = 0.1;
  std::vector<LayerConfig> layers;  // [num_layers]
};

// Parses a config.json document. Unknown architectures and unsupported RoPE types throw
// Error(Unsupported) naming them; malformed values throw Error(Corrupt).
ModelConfig parse_model_config(const nlohmann::json& j);
// Reads DIR/config_name (config.json unless told otherwise: tests read config_v5.json too).
ModelConfig load_model_config(const std::string& dir,
                              const std::string& config_name = "config.json");

}  // namespace pagedkv
