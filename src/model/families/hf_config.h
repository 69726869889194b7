#pragma once
// HfConfig: a config.json object read the way transformers reads it, for the family files.
// An explicit null means the same as an absent key (the class default or a derived value
// applies); a value of the wrong type is Error(Corrupt) naming the key.
//
// The shared part of the decoder families lives here too: parse_decoder reads what every
// Llama-like config has (sizes, eps, tied embeddings, activation, RoPE of full-attention layers)
// and the family files change only what differs.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/model_config.h"

namespace pagedkv {

class HfConfig {
 public:
  explicit HfConfig(const nlohmann::json& j) : j_(j) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  // Present and explicitly null (e.g. Llama 4's attention_chunk_size: null turns chunking off).
  bool is_null(const char* key) const { return j_.contains(key) && j_.at(key).is_null(); }
  template <typename T>
  T get(const char* key, T fallback) const {
    if (!has(key)) return fallback;
    try {
      return j_.at(key).get<T>();
    } catch (const nlohmann::json::exception& e) {
      fail(ErrorKind::kCorrupt,
           str_cat("config.json: key '", key, "' has the wrong type: ", e.what()));
    }
  }

  // `layer_types` (transformers 5) cut to n layers, or `fallback` when absent.
  std::vector<std::string> layer_types(int64_t n, std::vector<std::string> fallback) const;
  // The RoPE of layers of one type. v5 writes rope_parameters flat (one for all layers) or keyed
  // by layer type; 4.x writes rope_theta + rope_scaling. default_theta: the family's default.
  RopeConfig rope(const std::string& layer_type, double default_theta) const;
  // Gemma 3's local (sliding) layers: rope_local_base_freq (or their v5 entry), unscaled.
  RopeConfig local_rope(double default_theta) const;

 private:
  const nlohmann::json& j_;
};

// What a family's HF config class defaults to when config.json omits a key.
struct DecoderDefaults {
  int64_t vocab_size, hidden_size, intermediate_size, num_layers, num_heads;
  int64_t num_kv_heads;  // -1: num_heads
  int64_t head_dim;      // -1: hidden_size / num_heads
  int64_t max_position_embeddings;
  double rms_norm_eps, rope_theta;
  bool tie_word_embeddings;
  const char* activation;
  const char* activation_key = "hidden_act";  // Gemma 3 reads hidden_activation
};

// The common part of a decoder config: sizes (checked consistent), eps, tied embeddings,
// activation, scale head_dim^-0.5, and every layer full attention with mlp_size
// intermediate_size and the RoPE of "full_attention" layers.
ModelConfig parse_decoder(const HfConfig& j, const DecoderDefaults& d);

// Qwen 2 / Qwen 3: with use_sliding_window, layers >= max_window_layers slide with
// sliding_window (unless layer_types says otherwise). Sets each layer's rule and RoPE.
void apply_qwen_layer_types(const HfConfig& j, ModelConfig& c, double default_theta);

}  // namespace pagedkv
