#include "model/families/hf_config.h"

#include <cmath>

namespace pagedkv {

namespace {

using nlohmann::json;

// One RoPE description: a 4.x rope_scaling dict (theta given separately) or a v5 rope_parameters
// entry (theta inside, key rope_theta).
RopeConfig parse_rope(const json* params, double theta) {
  RopeConfig r;
  r.theta = theta;
  if (params == nullptr || params->is_null()) return r;
  PKV_CHECK(params->is_object(), Corrupt, "config.json: rope parameters must be an object");
  const HfConfig p(*params);
  if (p.has("rope_theta")) r.theta = p.get<double>("rope_theta", theta);
  const std::string type = p.get<std::string>("rope_type", p.get<std::string>("type", "default"));
  if (type == "default") {
    r.type = RopeType::kDefault;
  } else if (type == "linear") {
    r.type = RopeType::kLinear;
    r.factor = p.get<double>("factor", 1.0);
  } else if (type == "llama3") {
    r.type = RopeType::kFrequencyBands;
    r.factor = p.get<double>("factor", 8.0);
    r.low_freq_factor = p.get<double>("low_freq_factor", 1.0);
    r.high_freq_factor = p.get<double>("high_freq_factor", 4.0);
    r.original_max_positions = p.get<double>("original_max_position_embeddings", 8192);
  } else {
    fail(ErrorKind::kUnsupported, str_cat("config.json: unsupported rope type '", type, "'"));
  }
  PKV_CHECK(r.theta > 0 && r.factor > 0, Corrupt, "config.json: rope theta and factor must be > 0");
  return r;
}

bool keyed_by_layer_type(const json& rp) {
  return rp.is_object() && (rp.contains("full_attention") || rp.contains("sliding_attention") ||
                            rp.contains("chunked_attention"));
}

}  // namespace

std::vector<std::string> HfConfig::layer_types(int64_t n, std::vector<std::string> fallback) const {
  if (!has("layer_types")) return fallback;
  auto types = get<std::vector<std::string>>("layer_types", {});
  PKV_CHECK(int64_t(types.size()) >= n, Corrupt, "config.json: layer_types has ", types.size(),
            " entries for ", n, " layers");
  types.resize(n);
  return types;
}

RopeConfig HfConfig::rope(const std::string& layer_type, double default_theta) const {
  if (has("rope_parameters")) {
    const json& rp = j_.at("rope_parameters");
    if (rp.is_object() && rp.contains(layer_type) && rp.at(layer_type).is_object())
      return parse_rope(&rp.at(layer_type), default_theta);
    if (!keyed_by_layer_type(rp)) return parse_rope(&rp, get<double>("rope_theta", default_theta));
  }
  return parse_rope(has("rope_scaling") ? &j_.at("rope_scaling") : nullptr,
                    get<double>("rope_theta", default_theta));
}

RopeConfig HfConfig::local_rope(double default_theta) const {
  if (has("rope_parameters")) {
    const json& rp = j_.at("rope_parameters");
    if (rp.is_object() && rp.contains("sliding_attention") &&
        rp.at("sliding_attention").is_object())
      return parse_rope(&rp.at("sliding_attention"), default_theta);
  }
  return parse_rope(nullptr, get<double>("rope_local_base_freq", 10000.0));
}

ModelConfig parse_decoder(const HfConfig& j, const DecoderDefaults& d) {
  ModelConfig c;
  c.vocab_size = j.get<int64_t>("vocab_size", d.vocab_size);
  c.hidden_size = j.get<int64_t>("hidden_size", d.hidden_size);
  const int64_t intermediate = j.get<int64_t>("intermediate_size", d.intermediate_size);
  c.num_layers = j.get<int64_t>("num_hidden_layers", d.num_layers);
  c.num_heads = j.get<int64_t>("num_attention_heads", d.num_heads);
  c.num_kv_heads =
      j.get<int64_t>("num_key_value_heads", d.num_kv_heads < 0 ? c.num_heads : d.num_kv_heads);
  PKV_CHECK(c.num_heads > 0 && c.hidden_size > 0, Corrupt,
            "config.json: num_attention_heads and hidden_size must be > 0");
  c.head_dim =
      j.get<int64_t>("head_dim", d.head_dim < 0 ? c.hidden_size / c.num_heads : d.head_dim);
  c.max_position_embeddings = j.get<int64_t>("max_position_embeddings", d.max_position_embeddings);
  c.rms_norm_eps = j.get<double>("rms_norm_eps", d.rms_norm_eps);
  c.tie_word_embeddings = j.get<bool>("tie_word_embeddings", d.tie_word_embeddings);
  const std::string act = j.get<std::string>(d.activation_key, d.activation);
  if (act == "silu" || act == "swish") {
    c.activation = Activation::kSilu;
  } else if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast") {
    c.activation = Activation::kGeluTanh;
  } else {
    fail(ErrorKind::kUnsupported, str_cat("config.json: unsupported activation '", act, "'"));
  }
  PKV_CHECK(c.vocab_size > 0 && intermediate > 0 && c.num_layers > 0 && c.num_kv_heads > 0 &&
                c.head_dim > 0 && c.head_dim % 2 == 0 && c.num_heads % c.num_kv_heads == 0,
            Corrupt, "config.json: inconsistent sizes (vocab ", c.vocab_size, ", layers ",
            c.num_layers, ", heads ", c.num_heads, ", kv heads ", c.num_kv_heads, ", head_dim ",
            c.head_dim, ")");
  c.query_scale = 1.0 / std::sqrt(double(c.head_dim));
  c.layers.resize(c.num_layers);
  const RopeConfig rope = j.rope("full_attention", d.rope_theta);
  for (LayerConfig& l : c.layers) {
    l.rope = rope;
    l.mlp_size = intermediate;
  }
  return c;
}

void apply_qwen_layer_types(const HfConfig& j, ModelConfig& c, double default_theta) {
  const int64_t n = c.num_layers;
  const bool use_sw = j.get<bool>("use_sliding_window", false);
  const int64_t window = j.get<int64_t>("sliding_window", 4096);
  const int64_t max_window_layers = j.get<int64_t>("max_window_layers", 28);
  std::vector<std::string> fallback(n, "full_attention");
  for (int64_t i = 0; i < n; ++i)
    if (use_sw && j.has("sliding_window") && i >= max_window_layers)
      fallback[i] = "sliding_attention";
  const auto types = j.layer_types(n, fallback);
  for (int64_t i = 0; i < n; ++i) {
    c.layers[i].rope = j.rope(types[i], default_theta);
    if (types[i] == "sliding_attention") c.layers[i].attention = AttentionRule::sliding(window);
  }
}

}  // namespace pagedkv
