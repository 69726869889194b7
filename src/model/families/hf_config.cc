#include "model/families/hf_config.h"

#include <algorithm>
#include <cmath>

#include "model/json_brief.h"

namespace pagedkv {

namespace {

using nlohmann::json;
using L = ConfigLimits;

// One RoPE description: a 4.x rope_scaling dict (theta given separately) or a v5 rope_parameters
// entry (theta inside, key rope_theta).
RopeConfig parse_rope(const json* params, double theta, const std::string& where) {
  RopeConfig r;
  r.theta = theta;
  if (params == nullptr || params->is_null()) return r;
  PKV_CHECK(params->is_object(), Corrupt, "config.json: '", where,
            "' (rope parameters) must be an object");
  const HfConfig p(*params, where + ".");
  r.theta = p.get_positive("rope_theta", theta);
  const std::string type = p.get<std::string>("rope_type", p.get<std::string>("type", "default"));
  if (type == "default") {
    r.type = RopeType::kDefault;
  } else if (type == "linear") {
    r.type = RopeType::kLinear;
    r.factor = p.get_positive("factor", 1.0);
  } else if (type == "llama3") {
    r.type = RopeType::kFrequencyBands;
    r.factor = p.get_positive("factor", 8.0);
    r.low_freq_factor = p.get_positive("low_freq_factor", 1.0);
    r.high_freq_factor = p.get_positive("high_freq_factor", 4.0);
    r.original_max_positions = p.get_positive("original_max_position_embeddings", 8192);
    // The bands: wavelengths above original / low are scaled, below original / high kept.
    // Equal factors (Llama 4) leave no smooth band; high < low would make the bands overlap.
    PKV_CHECK(r.high_freq_factor >= r.low_freq_factor, Corrupt, "config.json: '", where,
              ".high_freq_factor' (", r.high_freq_factor, ") must be >= low_freq_factor (",
              r.low_freq_factor, ")");
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

void HfConfig::wrong(const json& v, const std::string& key, const char* expected) {
  fail(ErrorKind::kCorrupt,
       str_cat("config.json: '", key, "' must be ", expected, ", got ", json_brief(v)));
}

int64_t HfConfig::get_int(const char* key, int64_t fallback, int64_t min, int64_t max) const {
  const int64_t v = get<int64_t>(key, fallback);
  PKV_CHECK(v >= min && v <= max, Corrupt, "config.json: '", name(key), "' must be in [", min, ", ",
            max, "], got ", v);
  return v;
}

double HfConfig::get_positive(const char* key, double fallback) const {
  const double v = get<double>(key, fallback);
  PKV_CHECK(v > 0, Corrupt, "config.json: '", name(key), "' must be > 0, got ", v);
  return v;
}

double HfConfig::get_non_negative(const char* key, double fallback) const {
  const double v = get<double>(key, fallback);
  PKV_CHECK(v >= 0, Corrupt, "config.json: '", name(key), "' must be >= 0, got ", v);
  return v;
}

std::vector<std::string> HfConfig::layer_types(int64_t n, std::vector<std::string> fallback,
                                               const std::vector<std::string>& known) const {
  if (!has("layer_types")) return fallback;
  auto types = get<std::vector<std::string>>("layer_types", {});
  PKV_CHECK(int64_t(types.size()) >= n, Corrupt, "config.json: layer_types has ", types.size(),
            " entries for ", n, " layers");
  for (size_t i = 0; i < types.size(); ++i) {
    if (std::find(known.begin(), known.end(), types[i]) != known.end()) continue;
    std::string list;
    for (const std::string& k : known) list += str_cat(list.empty() ? "" : ", ", k);
    fail(ErrorKind::kUnsupported,
         str_cat("config.json: layer_types[", i, "] is '", types[i].substr(0, 40),
                 "', not a layer type of this family (", list, ")"));
  }
  types.resize(n);
  return types;
}

RopeConfig HfConfig::rope(const std::string& layer_type, double default_theta) const {
  if (has("rope_parameters")) {
    const json& rp = j_.at("rope_parameters");
    if (rp.is_object() && rp.contains(layer_type) && rp.at(layer_type).is_object())
      return parse_rope(&rp.at(layer_type), default_theta, name("rope_parameters.") + layer_type);
    if (!keyed_by_layer_type(rp))
      return parse_rope(&rp, get_positive("rope_theta", default_theta), name("rope_parameters"));
  }
  return parse_rope(has("rope_scaling") ? &j_.at("rope_scaling") : nullptr,
                    get_positive("rope_theta", default_theta), name("rope_scaling"));
}

RopeConfig HfConfig::local_rope(double default_theta) const {
  if (has("rope_parameters")) {
    const json& rp = j_.at("rope_parameters");
    if (rp.is_object() && rp.contains("sliding_attention") &&
        rp.at("sliding_attention").is_object())
      return parse_rope(&rp.at("sliding_attention"), default_theta,
                        name("rope_parameters.sliding_attention"));
  }
  return parse_rope(nullptr, get_positive("rope_local_base_freq", 10000.0), "");
}

ModelConfig parse_decoder(const HfConfig& j, const DecoderDefaults& d) {
  ModelConfig c;
  c.vocab_size = j.get_int("vocab_size", d.vocab_size, 1, L::kInt32);
  c.hidden_size = j.get_int("hidden_size", d.hidden_size, 1, L::kMaxHidden);
  const int64_t intermediate =
      j.get_int("intermediate_size", d.intermediate_size, 1, L::kMaxIntermediate);
  c.num_layers = j.get_int("num_hidden_layers", d.num_layers, 1, L::kMaxLayers);
  c.num_heads = j.get_int("num_attention_heads", d.num_heads, 1, L::kMaxHeads);
  c.num_kv_heads = j.get_int("num_key_value_heads",
                             d.num_kv_heads < 0 ? c.num_heads : d.num_kv_heads, 1, L::kMaxHeads);
  c.head_dim = j.get_int("head_dim", d.head_dim < 0 ? c.hidden_size / c.num_heads : d.head_dim, 1,
                         L::kMaxHeadDim);
  c.max_position_embeddings =
      j.get_int("max_position_embeddings", d.max_position_embeddings, 0, L::kInt32);
  c.rms_norm_eps = j.get_positive("rms_norm_eps", d.rms_norm_eps);
  c.tie_word_embeddings = j.get<bool>("tie_word_embeddings", d.tie_word_embeddings);
  const std::string act = j.get<std::string>(d.activation_key, d.activation);
  if (act == "silu" || act == "swish") {
    c.activation = Activation::kSilu;
  } else if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast") {
    c.activation = Activation::kGeluTanh;
  } else {
    fail(ErrorKind::kUnsupported,
         str_cat("config.json: unsupported activation '", act.substr(0, 40), "'"));
  }
  PKV_CHECK(c.head_dim % 2 == 0 && c.num_heads % c.num_kv_heads == 0, Corrupt,
            "config.json: inconsistent sizes (vocab ", c.vocab_size, ", layers ", c.num_layers,
            ", heads ", c.num_heads, ", kv heads ", c.num_kv_heads, ", head_dim ", c.head_dim,
            "): head_dim must be even and num_attention_heads a multiple of num_key_value_heads");
  c.query_scale = 1.0 / std::sqrt(double(c.head_dim));
  c.layers.resize(c.num_layers);
  const RopeConfig rope = j.rope("full_attention", d.rope_theta);
  for (LayerConfig& l : c.layers) {
    l.rope = rope;
    l.mlp_size = intermediate;
  }
  return c;
}

int64_t get_window(const HfConfig& j, const char* key, int64_t fallback) {
  return j.get_int(key, fallback, 1, L::kInt32);
}

void apply_qwen_layer_types(const HfConfig& j, ModelConfig& c, double default_theta) {
  const int64_t n = c.num_layers;
  const bool use_sw = j.get<bool>("use_sliding_window", false);
  const int64_t window = get_window(j, "sliding_window", 4096);
  const int64_t max_window_layers = j.get_int("max_window_layers", 28, 0, L::kInt32);
  std::vector<std::string> fallback(n, "full_attention");
  for (int64_t i = 0; i < n; ++i)
    if (use_sw && j.has("sliding_window") && i >= max_window_layers)
      fallback[i] = "sliding_attention";
  const auto types = j.layer_types(n, fallback, {"full_attention", "sliding_attention"});
  for (int64_t i = 0; i < n; ++i) {
    c.layers[i].rope = j.rope(types[i], default_theta);
    if (types[i] == "sliding_attention") c.layers[i].attention = AttentionRule::sliding(window);
  }
}

}  // namespace pagedkv
