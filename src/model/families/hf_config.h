#pragma once
// HfConfig: a config.json object read the way transformers reads it, for the family files.
// An explicit null means the same as an absent key (the class default or a derived value
// applies); a value of the wrong type is Error(Corrupt) naming the key.
//
// config.json comes from whoever made the checkpoint, so every read is checked here, once, not
// at the call sites: get<T> of an integer type takes only a JSON integer that T can hold (4.5,
// 1e30 and 2^64 are refused by name instead of being truncated or overflowing), a floating type
// only a finite number, and get_int / get_positive / get_non_negative add the range the field
// needs (a zero or negative divisor, interval, window, scale or epsilon is refused before any
// arithmetic sees it).
//
// The shared part of the decoder families lives here too: parse_decoder reads what every
// Llama-like config has (sizes, eps, tied embeddings, activation, RoPE of full-attention layers)
// and the family files change only what differs.

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "model/model_config.h"

namespace pagedkv {

// Upper bounds for sizes read from config.json: far above any released model, low enough that
// every product the loaders form (heads x head_dim, vocab x hidden, experts x hidden x 2 x
// intermediate) fits in int64 and in the int32 the kernels index with.
struct ConfigLimits {
  static constexpr int64_t kMaxLayers = 1 << 16;
  static constexpr int64_t kMaxHidden = 1 << 18;
  static constexpr int64_t kMaxIntermediate = 1 << 22;
  static constexpr int64_t kMaxHeads = 4096;
  static constexpr int64_t kMaxHeadDim = 4096;
  static constexpr int64_t kMaxExperts = 4096;
  static constexpr int64_t kInt32 = std::numeric_limits<int32_t>::max();
};

class HfConfig {
 public:
  // `where`: the prefix of key names in errors ("" at the top level, "rope_scaling." inside it).
  explicit HfConfig(const nlohmann::json& j, std::string where = "")
      : j_(j), where_(std::move(where)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  // Present and explicitly null (e.g. Llama 4's attention_chunk_size: null turns chunking off).
  bool is_null(const char* key) const { return j_.contains(key) && j_.at(key).is_null(); }
  // The value of `key` as T (bool, std::string, an integer or floating type, or a std::vector of
  // those), `fallback` when absent or null.
  template <typename T>
  T get(const char* key, T fallback) const {
    if (!has(key)) return fallback;
    return convert<T>(j_.at(key), name(key));
  }
  // An integer in [min, max]: Error(Corrupt) naming the key and the range otherwise.
  int64_t get_int(const char* key, int64_t fallback, int64_t min, int64_t max) const;
  // A finite number > 0 (divisors, scales, epsilons, RoPE bases) / >= 0 (softcaps: 0 is none).
  double get_positive(const char* key, double fallback) const;
  double get_non_negative(const char* key, double fallback) const;

  // `layer_types` (transformers 5) cut to n layers, or `fallback` when absent. Every entry must
  // be one of `known` (the attention kinds the family has): an unknown kind is Unsupported.
  std::vector<std::string> layer_types(int64_t n, std::vector<std::string> fallback,
                                       const std::vector<std::string>& known) const;
  // The RoPE of layers of one type. v5 writes rope_parameters flat (one for all layers) or keyed
  // by layer type; 4.x writes rope_theta + rope_scaling. default_theta: the family's default.
  RopeConfig rope(const std::string& layer_type, double default_theta) const;
  // Gemma 3's local (sliding) layers: rope_local_base_freq (or their v5 entry), unscaled.
  RopeConfig local_rope(double default_theta) const;

  // "config.json: '<where><key>'": how errors name a key.
  std::string name(const char* key) const { return where_ + key; }

 private:
  template <typename T>
  static T convert(const nlohmann::json& v, const std::string& key);
  [[noreturn]] static void wrong(const nlohmann::json& v, const std::string& key,
                                 const char* expected);

  const nlohmann::json& j_;
  std::string where_;
};

template <typename T>
T HfConfig::convert(const nlohmann::json& v, const std::string& key) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) wrong(v, key, "a boolean");
    return v.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) wrong(v, key, "a string");
    return v.get<std::string>();
  } else if constexpr (std::is_integral_v<T>) {
    // is_number_integer covers JSON integers stored signed or unsigned; floats (4.5, 1e30, even
    // 4096.0) are not integers.
    if (!v.is_number_integer()) wrong(v, key, "an integer");
    const bool fits = v.is_number_unsigned()
                          ? v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
                          : v.get<int64_t>() >= int64_t(std::numeric_limits<T>::min()) &&
                                v.get<int64_t>() <= int64_t(std::numeric_limits<T>::max());
    if (!fits) wrong(v, key, "an integer in range");
    return v.is_number_unsigned() ? T(v.get<uint64_t>()) : T(v.get<int64_t>());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) wrong(v, key, "a finite number");
    return T(v.get<double>());
  } else {
    // std::vector<E>: each element checked as E, named key[i].
    if (!v.is_array()) wrong(v, key, "an array");
    T out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(convert<typename T::value_type>(v[i], str_cat(key, "[", i, "]")));
    return out;
  }
}

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

// The common part of a decoder config: sizes (checked in range and consistent), eps, tied
// embeddings, activation, scale head_dim^-0.5, and every layer full attention with mlp_size
// intermediate_size and the RoPE of "full_attention" layers.
ModelConfig parse_decoder(const HfConfig& j, const DecoderDefaults& d);

// sliding_window / attention_chunk_size: a window of >= 1 token that the 32-bit kernels can hold.
int64_t get_window(const HfConfig& j, const char* key, int64_t fallback);

// Qwen 2 / Qwen 3: with use_sliding_window, layers >= max_window_layers slide with
// sliding_window (unless layer_types says otherwise). Sets each layer's rule and RoPE.
void apply_qwen_layer_types(const HfConfig& j, ModelConfig& c, double default_theta);

}  // namespace pagedkv
