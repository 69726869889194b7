#include "model/model_config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pagedkv {

using nlohmann::json;

const char* model_family_name(ModelFamily f) {
  switch (f) {
    case ModelFamily::kLlama3:
      return "llama3";
    case ModelFamily::kQwen3:
      return "qwen3";
    case ModelFamily::kGemma3:
      return "gemma3";
    case ModelFamily::kLlama4:
      return "llama4";
  }
  return "?";
}

namespace {

// HF treats an explicit null like an absent key (the class default or a derived value applies).
bool has(const json& j, const char* key) { return j.contains(key) && !j.at(key).is_null(); }

template <typename T>
T get_or(const json& j, const char* key, T fallback) {
  if (!has(j, key)) return fallback;
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    fail(ErrorKind::kCorrupt,
         str_cat("config.json: key '", key, "' has the wrong type: ", e.what()));
  }
}

ModelFamily detect_family(const json& j, std::string* arch) {
  std::string name;
  if (has(j, "architectures") && j.at("architectures").is_array() && !j.at("architectures").empty())
    name = j.at("architectures").at(0).get<std::string>();
  const std::string model_type = get_or<std::string>(j, "model_type", "");
  *arch = name.empty() ? model_type : name;
  if (name == "LlamaForCausalLM" || (name.empty() && model_type == "llama"))
    return ModelFamily::kLlama3;
  if (name == "Qwen3ForCausalLM" || (name.empty() && model_type == "qwen3"))
    return ModelFamily::kQwen3;
  if (name == "Gemma3ForCausalLM" || (name.empty() && model_type == "gemma3_text"))
    return ModelFamily::kGemma3;
  if (name == "Llama4ForCausalLM" || (name.empty() && model_type == "llama4_text"))
    return ModelFamily::kLlama4;
  fail(ErrorKind::kUnsupported,
       str_cat("config.json: unsupported architecture '", *arch, "' (model_type '", model_type,
               "'); supported: LlamaForCausalLM, Qwen3ForCausalLM, Gemma3ForCausalLM, "
               "Llama4ForCausalLM"));
}

// One RoPE description: a 4.x rope_scaling dict (theta given separately) or a v5 rope_parameters
// entry (theta inside, key rope_theta).
RopeConfig parse_rope(const json* params, double theta) {
  RopeConfig r;
  r.theta = theta;
  if (params == nullptr || params->is_null()) return r;
  PKV_CHECK(params->is_object(), Corrupt, "config.json: rope parameters must be an object");
  if (has(*params, "rope_theta")) r.theta = get_or<double>(*params, "rope_theta", theta);
  std::string type =
      get_or<std::string>(*params, "rope_type", get_or<std::string>(*params, "type", "default"));
  if (type == "default") {
    r.type = RopeType::kDefault;
  } else if (type == "linear") {
    r.type = RopeType::kLinear;
    r.factor = get_or<double>(*params, "factor", 1.0);
  } else if (type == "llama3") {
    r.type = RopeType::kLlama3;
    r.factor = get_or<double>(*params, "factor", 8.0);
    r.low_freq_factor = get_or<double>(*params, "low_freq_factor", 1.0);
    r.high_freq_factor = get_or<double>(*params, "high_freq_factor", 4.0);
    r.original_max_positions = get_or<double>(*params, "original_max_position_embeddings", 8192);
  } else {
    fail(ErrorKind::kUnsupported, str_cat("config.json: unsupported rope type '", type, "'"));
  }
  PKV_CHECK(r.theta > 0 && r.factor > 0, Corrupt, "config.json: rope theta and factor must be > 0");
  return r;
}

// The RoPE of one layer type. v5 writes rope_parameters either flat (one for all layers) or keyed
// by layer type; 4.x writes rope_theta + rope_scaling (+ Gemma's rope_local_base_freq).
RopeConfig rope_for(const json& j, const std::string& layer_type, double default_theta,
                    bool gemma_local) {
  if (has(j, "rope_parameters")) {
    const json& rp = j.at("rope_parameters");
    if (rp.is_object() && rp.contains(layer_type) && rp.at(layer_type).is_object())
      return parse_rope(&rp.at(layer_type), default_theta);
    const bool keyed =
        rp.is_object() && (rp.contains("full_attention") || rp.contains("sliding_attention") ||
                           rp.contains("chunked_attention"));
    if (!keyed && !gemma_local)
      return parse_rope(&rp, get_or<double>(j, "rope_theta", default_theta));
    if (!keyed && gemma_local)
      return parse_rope(nullptr, get_or<double>(j, "rope_local_base_freq", 10000.0));
  }
  if (gemma_local) return parse_rope(nullptr, get_or<double>(j, "rope_local_base_freq", 10000.0));
  const double theta = get_or<double>(j, "rope_theta", default_theta);
  return parse_rope(has(j, "rope_scaling") ? &j.at("rope_scaling") : nullptr, theta);
}

std::vector<std::string> layer_types_or(const json& j, int64_t n,
                                        std::vector<std::string> fallback) {
  if (!has(j, "layer_types")) return fallback;
  auto types = get_or<std::vector<std::string>>(j, "layer_types", {});
  PKV_CHECK(int64_t(types.size()) >= n, Corrupt, "config.json: layer_types has ", types.size(),
            " entries for ", n, " layers");
  types.resize(n);
  return types;
}

}  // namespace

ModelConfig parse_model_config(const json& j) {
  PKV_CHECK(j.is_object(), Corrupt, "config.json: top level must be an object");
  ModelConfig c;
  c.family = detect_family(j, &c.architecture);
  const ModelFamily f = c.family;

  // Family defaults, as in transformers' LlamaConfig, Qwen3Config, Gemma3TextConfig,
  // Llama4TextConfig.
  struct Defaults {
    int64_t vocab, hidden, inter, layers, heads, kv_heads, head_dim;
    double eps, theta;
    bool tie;
    const char* act;
  } d{};
  switch (f) {
    case ModelFamily::kLlama3:
      d = {32000, 4096, 11008, 32, 32, -1, -1, 1e-6, 10000.0, false, "silu"};
      break;
    case ModelFamily::kQwen3:
      d = {151936, 4096, 22016, 32, 32, 32, 128, 1e-6, 10000.0, false, "silu"};
      break;
    case ModelFamily::kGemma3:
      d = {262208, 2304, 9216, 26, 8, 4, 256, 1e-6, 1e6, true, "gelu_pytorch_tanh"};
      break;
    case ModelFamily::kLlama4:
      d = {202048, 5120, 8192, 48, 40, 8, 128, 1e-5, 500000.0, false, "silu"};
      break;
  }
  c.vocab_size = get_or<int64_t>(j, "vocab_size", d.vocab);
  c.hidden_size = get_or<int64_t>(j, "hidden_size", d.hidden);
  c.intermediate_size = get_or<int64_t>(j, "intermediate_size", d.inter);
  c.num_layers = get_or<int64_t>(j, "num_hidden_layers", d.layers);
  c.num_heads = get_or<int64_t>(j, "num_attention_heads", d.heads);
  c.num_kv_heads =
      get_or<int64_t>(j, "num_key_value_heads", d.kv_heads < 0 ? c.num_heads : d.kv_heads);
  PKV_CHECK(c.num_heads > 0 && c.hidden_size > 0, Corrupt,
            "config.json: num_attention_heads and hidden_size must be > 0");
  const int64_t head_dim_default = d.head_dim < 0 ? c.hidden_size / c.num_heads : d.head_dim;
  c.head_dim = get_or<int64_t>(j, "head_dim", head_dim_default);
  c.rms_norm_eps = get_or<double>(j, "rms_norm_eps", d.eps);
  c.tie_word_embeddings = get_or<bool>(j, "tie_word_embeddings", d.tie);
  c.attention_bias = get_or<bool>(j, "attention_bias", false);
  c.mlp_bias = f == ModelFamily::kLlama3 ? get_or<bool>(j, "mlp_bias", false) : false;
  const std::string act =
      get_or<std::string>(j, f == ModelFamily::kGemma3 ? "hidden_activation" : "hidden_act", d.act);
  if (act == "silu" || act == "swish") {
    c.activation = Activation::kSilu;
  } else if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast") {
    c.activation = Activation::kGeluTanh;
  } else {
    fail(ErrorKind::kUnsupported, str_cat("config.json: unsupported activation '", act, "'"));
  }
  PKV_CHECK(c.vocab_size > 0 && c.intermediate_size > 0 && c.num_layers > 0 && c.num_kv_heads > 0 &&
                c.head_dim > 0 && c.head_dim % 2 == 0 && c.num_heads % c.num_kv_heads == 0,
            Corrupt, "config.json: inconsistent sizes (vocab ", c.vocab_size, ", layers ",
            c.num_layers, ", heads ", c.num_heads, ", kv heads ", c.num_kv_heads, ", head_dim ",
            c.head_dim, ")");
  c.query_scale = 1.0 / std::sqrt(double(c.head_dim));
  const int64_t n = c.num_layers;
  c.layers.resize(n);

  if (f == ModelFamily::kLlama3) {
    const RopeConfig rope = rope_for(j, "full_attention", d.theta, false);
    for (auto& l : c.layers) l.rope = rope;
  } else if (f == ModelFamily::kQwen3) {
    c.learned_qk_norm = true;
    // Qwen3Config: sliding only when use_sliding_window, for layers >= max_window_layers.
    const bool use_sw = get_or<bool>(j, "use_sliding_window", false);
    const int64_t window = get_or<int64_t>(j, "sliding_window", 4096);
    const int64_t max_window_layers = get_or<int64_t>(j, "max_window_layers", 28);
    std::vector<std::string> fallback(n, "full_attention");
    for (int64_t i = 0; i < n; ++i)
      if (use_sw && has(j, "sliding_window") && i >= max_window_layers)
        fallback[i] = "sliding_attention";
    const auto types = layer_types_or(j, n, fallback);
    for (int64_t i = 0; i < n; ++i) {
      c.layers[i].rope = rope_for(j, types[i], d.theta, false);
      if (types[i] == "sliding_attention") {
        c.layers[i].attention = LayerKind::kSliding;
        c.layers[i].window = int32_t(window);
      }
    }
  } else if (f == ModelFamily::kGemma3) {
    c.learned_qk_norm = true;
    c.query_scale = 1.0 / std::sqrt(get_or<double>(j, "query_pre_attn_scalar", 256.0));
    c.final_logit_softcap = get_or<double>(j, "final_logit_softcapping", 0.0);
    c.attn_logit_softcap = get_or<double>(j, "attn_logit_softcapping", 0.0);
    const int64_t window = get_or<int64_t>(j, "sliding_window", 4096);
    const int64_t pattern = get_or<int64_t>(j, "sliding_window_pattern",
                                            get_or<int64_t>(j, "_sliding_window_pattern", 6));
    PKV_CHECK(pattern > 0, Corrupt, "config.json: sliding_window_pattern must be > 0");
    std::vector<std::string> fallback(n);
    for (int64_t i = 0; i < n; ++i)
      fallback[i] = (i + 1) % pattern == 0 ? "full_attention" : "sliding_attention";
    const auto types = layer_types_or(j, n, fallback);
    for (int64_t i = 0; i < n; ++i) {
      const bool sliding = types[i] == "sliding_attention";
      PKV_CHECK(sliding || types[i] == "full_attention", Unsupported, "config.json: layer type '",
                types[i], "' of layer ", i);
      c.layers[i].rope = rope_for(j, types[i], d.theta, sliding);
      if (sliding) {
        c.layers[i].attention = LayerKind::kSliding;
        c.layers[i].window = int32_t(window);
      }
    }
  } else {  // Llama 4 text
    c.intermediate_size_mlp = get_or<int64_t>(j, "intermediate_size_mlp", 16384);
    c.num_experts = get_or<int64_t>(j, "num_local_experts", 16);
    c.experts_per_token = get_or<int64_t>(j, "num_experts_per_tok", 1);
    PKV_CHECK(c.experts_per_token >= 1 && c.experts_per_token <= c.num_experts, Corrupt,
              "config.json: num_experts_per_tok ", c.experts_per_token, " with ", c.num_experts,
              " experts");
    c.l2_qk_norm = get_or<bool>(j, "use_qk_norm", true);
    c.attn_temperature_tuning = get_or<bool>(j, "attn_temperature_tuning", true);
    c.floor_scale = get_or<double>(j, "floor_scale", 8192.0);
    c.attn_scale = get_or<double>(j, "attn_scale", 0.1);
    const int64_t chunk = get_or<int64_t>(j, "attention_chunk_size", 8192);
    // no_rope_layers[i] == 1 means layer i USES RoPE; absent (or empty): every interval-th is NoPE.
    auto no_rope = get_or<std::vector<int64_t>>(j, "no_rope_layers", {});
    if (no_rope.empty()) {
      const int64_t interval = get_or<int64_t>(j, "no_rope_layer_interval", 4);
      for (int64_t i = 0; i < n; ++i) no_rope.push_back((i + 1) % interval != 0 ? 1 : 0);
    }
    PKV_CHECK(int64_t(no_rope.size()) >= n, Corrupt, "config.json: no_rope_layers has ",
              no_rope.size(), " entries for ", n, " layers");
    std::vector<int64_t> moe_layers;
    if (has(j, "moe_layers")) {
      moe_layers = get_or<std::vector<int64_t>>(j, "moe_layers", {});
    } else {
      const int64_t step = get_or<int64_t>(j, "interleave_moe_layer_step", 1);
      PKV_CHECK(step > 0, Corrupt, "config.json: interleave_moe_layer_step must be > 0");
      for (int64_t i = step - 1; i < n; i += step) moe_layers.push_back(i);
    }
    std::vector<std::string> fallback(n);
    for (int64_t i = 0; i < n; ++i)
      fallback[i] = no_rope[i] ? "chunked_attention" : "full_attention";
    const auto types = layer_types_or(j, n, fallback);
    for (int64_t i = 0; i < n; ++i) {
      LayerConfig& l = c.layers[i];
      l.use_rope = no_rope[i] != 0;
      l.rope = rope_for(j, types[i], d.theta, false);
      // An explicit null attention_chunk_size turns chunking off; absent takes the default 8192.
      const bool chunk_off =
          j.contains("attention_chunk_size") && j.at("attention_chunk_size").is_null();
      if (types[i] == "chunked_attention" && !chunk_off) {
        l.attention = LayerKind::kChunked;
        l.window = int32_t(chunk);
      }
    }
    for (int64_t m : moe_layers) {
      PKV_CHECK(m >= 0 && m < n, Corrupt, "config.json: moe_layers entry ", m, " out of range");
      c.layers[m].moe = true;
    }
  }
  for (const auto& l : c.layers)
    PKV_CHECK(l.attention == LayerKind::kFull || l.window > 0, Corrupt,
              "config.json: sliding window / chunk size must be > 0");
  return c;
}

ModelConfig load_model_config(const std::string& dir, const std::string& config_name) {
  const std::string path = dir + "/" + config_name;
  std::ifstream in(path);
  PKV_CHECK(in.good(), NotFound, "cannot open ", path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    fail(ErrorKind::kCorrupt, str_cat(path, ": invalid JSON: ", e.what()));
  }
  try {
    return parse_model_config(j);
  } catch (const Error& e) {
    const std::string msg = e.what();  // "<Kind>: message"
    throw Error(e.kind(), str_cat(path, ": ", msg.substr(msg.find(": ") + 2)));
  }
}

}  // namespace pagedkv
