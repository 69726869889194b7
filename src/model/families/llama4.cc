// Llama 4 text (Llama4ForCausalLM): no_rope_layers[i] == 1 means layer i USES RoPE (default:
// every no_rope_layer_interval-th layer is NoPE). RoPE layers attend within chunks of
// attention_chunk_size, rotate complex pairs (interleaved) and, with use_qk_norm, normalize q and
// k without weights after RoPE; NoPE layers see everything and, with attn_temperature_tuning,
// scale q by position. MoE layers (moe_layers, or every interleave_moe_layer_step-th) route each
// token to its top-k experts plus a shared expert; dense layers use intermediate_size_mlp.
#include "model/families/family.h"

namespace pagedkv {

namespace {

ModelConfig parse_llama4(const HfConfig& j) {
  // transformers' Llama4TextConfig defaults.
  constexpr double kTheta = 500000.0;
  ModelConfig c = parse_decoder(j, {.vocab_size = 202048,
                                    .hidden_size = 5120,
                                    .intermediate_size = 8192,
                                    .num_layers = 48,
                                    .num_heads = 40,
                                    .num_kv_heads = 8,
                                    .head_dim = 128,
                                    .max_position_embeddings = 4096 * 32,
                                    .rms_norm_eps = 1e-5,
                                    .rope_theta = kTheta,
                                    .tie_word_embeddings = false,
                                    .activation = "silu"});
  c.qkv_bias = c.o_bias = j.get<bool>("attention_bias", false);
  c.rope_style = RopeStyle::kInterleaved;
  c.names.mlp = "feed_forward";
  c.expert_size = c.layers[0].mlp_size;  // intermediate_size: the experts' and shared expert's
  const int64_t dense_size =
      j.get_int("intermediate_size_mlp", 16384, 1, ConfigLimits::kMaxIntermediate);
  c.num_experts = j.get_int("num_local_experts", 16, 1, ConfigLimits::kMaxExperts);
  c.experts_per_token = j.get_int("num_experts_per_tok", 1, 1, c.num_experts);
  if (j.get<bool>("use_qk_norm", true)) c.qk_norm = QkNorm::kWeightlessAfterRope;
  const bool temperature_tuning = j.get<bool>("attn_temperature_tuning", true);
  // q *= 1 + attn_scale * log1p(floor((pos + 1) / floor_scale)): floor_scale divides.
  c.floor_scale = j.get_positive("floor_scale", 8192.0);
  c.attn_scale = j.get_non_negative("attn_scale", 0.1);
  const bool chunk_off = j.is_null("attention_chunk_size");  // explicit null: no chunking
  const int64_t chunk = chunk_off ? 0 : get_window(j, "attention_chunk_size", 8192);
  const int64_t n = c.num_layers;
  auto no_rope = j.get<std::vector<int64_t>>("no_rope_layers", {});
  if (no_rope.empty()) {
    const int64_t interval = j.get_int("no_rope_layer_interval", 4, 1, ConfigLimits::kInt32);
    for (int64_t i = 0; i < n; ++i) no_rope.push_back((i + 1) % interval != 0 ? 1 : 0);
  }
  PKV_CHECK(int64_t(no_rope.size()) >= n, Corrupt, "config.json: no_rope_layers has ",
            no_rope.size(), " entries for ", n, " layers");
  for (size_t i = 0; i < no_rope.size(); ++i)
    PKV_CHECK(no_rope[i] == 0 || no_rope[i] == 1, Corrupt, "config.json: 'no_rope_layers[", i,
              "]' must be 0 (NoPE) or 1 (RoPE), got ", no_rope[i]);
  std::vector<int64_t> moe_layers;
  if (j.has("moe_layers")) {
    moe_layers = j.get<std::vector<int64_t>>("moe_layers", {});
  } else {
    const int64_t step = j.get_int("interleave_moe_layer_step", 1, 1, ConfigLimits::kInt32);
    for (int64_t i = step - 1; i < n; i += step) moe_layers.push_back(i);
  }
  std::vector<std::string> fallback(n);
  for (int64_t i = 0; i < n; ++i) fallback[i] = no_rope[i] ? "chunked_attention" : "full_attention";
  const auto types = j.layer_types(n, fallback, {"full_attention", "chunked_attention"});
  for (int64_t i = 0; i < n; ++i) {
    LayerConfig& l = c.layers[i];
    l.use_rope = no_rope[i] != 0;
    l.temperature_tuning = !l.use_rope && temperature_tuning;
    l.rope = j.rope(types[i], kTheta);
    l.mlp_size = dense_size;
    if (types[i] == "chunked_attention" && !chunk_off) l.attention = AttentionRule::chunked(chunk);
  }
  for (int64_t m : moe_layers) {
    PKV_CHECK(m >= 0 && m < n, Corrupt, "config.json: moe_layers entry ", m, " out of range");
    c.layers[m].moe = true;
  }
  return c;
}

constexpr std::string_view kArchitectures[] = {"Llama4ForCausalLM"};
constexpr std::string_view kModelTypes[] = {"llama4_text"};
// Llama 4 Scout / Maverick ship as the multimodal container (vision model ignored here). Its text
// model is a Llama4ForCausalLM of text_config, tied (or not) by text_config itself.
constexpr std::string_view kContainers[] = {"Llama4ForConditionalGeneration"};
constexpr std::string_view kContainerTypes[] = {"llama4"};

}  // namespace

extern const ModelFamily kLlama4Family{"llama4",     kArchitectures, kModelTypes,
                                       parse_llama4, kContainers,    kContainerTypes};

}  // namespace pagedkv
