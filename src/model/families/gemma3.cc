// Gemma 3 text (Gemma3ForCausalLM): layer i is global (full attention, RoPE rope_theta with its
// scaling) iff (i + 1) % sliding_window_pattern == 0 — or as layer_types says — and the others
// slide with sliding_window under the unscaled local base rope_local_base_freq. RMSNorms weigh by
// (1 + w); learned q/k norms before RoPE; scale query_pre_attn_scalar^-0.5; embeddings times
// sqrt(hidden); sandwich norms around both sublayers; GeGLU (tanh) MLP; optional softcaps.
#include <cmath>

#include "model/families/family.h"

namespace pagedkv {

namespace {

ModelConfig parse_gemma3(const HfConfig& j) {
  // transformers' Gemma3TextConfig defaults.
  constexpr double kTheta = 1e6;
  ModelConfig c = parse_decoder(j, {.vocab_size = 262208,
                                    .hidden_size = 2304,
                                    .intermediate_size = 9216,
                                    .num_layers = 26,
                                    .num_heads = 8,
                                    .num_kv_heads = 4,
                                    .head_dim = 256,
                                    .max_position_embeddings = 131072,
                                    .rms_norm_eps = 1e-6,
                                    .rope_theta = kTheta,
                                    .tie_word_embeddings = true,
                                    .activation = "gelu_pytorch_tanh",
                                    .activation_key = "hidden_activation"});
  c.qkv_bias = c.o_bias = j.get<bool>("attention_bias", false);
  c.norm_weight = NormWeight::kOnePlus;
  c.names.attn_out_norm = "post_attention_layernorm";
  c.names.mlp_norm = "pre_feedforward_layernorm";
  c.names.mlp_out_norm = "post_feedforward_layernorm";
  c.qk_norm = QkNorm::kLearnedBeforeRope;
  // HF multiplies by sqrt(hidden) cast to the weights' dtype; f32 here.
  c.embed_scale = double(float(std::sqrt(double(c.hidden_size))));
  c.query_scale = 1.0 / std::sqrt(j.get_positive("query_pre_attn_scalar", 256.0));
  c.final_logit_softcap = j.get_non_negative("final_logit_softcapping", 0.0);
  c.attn_logit_softcap = j.get_non_negative("attn_logit_softcapping", 0.0);
  const int64_t window = get_window(j, "sliding_window", 4096);
  const int64_t pattern = j.get_int(
      "sliding_window_pattern", j.get_int("_sliding_window_pattern", 6, 1, ConfigLimits::kInt32), 1,
      ConfigLimits::kInt32);
  const int64_t n = c.num_layers;
  std::vector<std::string> fallback(n);
  for (int64_t i = 0; i < n; ++i)
    fallback[i] = (i + 1) % pattern == 0 ? "full_attention" : "sliding_attention";
  const auto types = j.layer_types(n, fallback, {"full_attention", "sliding_attention"});
  for (int64_t i = 0; i < n; ++i) {
    const bool sliding = types[i] == "sliding_attention";
    LayerConfig& l = c.layers[i];
    l.rope = sliding ? j.local_rope(kTheta) : j.rope(types[i], kTheta);
    if (sliding) l.attention = AttentionRule::sliding(window);
  }
  return c;
}

constexpr std::string_view kArchitectures[] = {"Gemma3ForCausalLM"};
constexpr std::string_view kModelTypes[] = {"gemma3_text"};
// Gemma 3 4B and larger ship as the multimodal container (text model + SigLIP vision tower, which
// pagedkv ignores). Gemma3ForConditionalGeneration ties lm_head by its own config's
// tie_word_embeddings (Gemma3Config, default true), not text_config's.
constexpr std::string_view kContainers[] = {"Gemma3ForConditionalGeneration"};
constexpr std::string_view kContainerTypes[] = {"gemma3"};
constexpr std::string_view kTopLevel[] = {"tie_word_embeddings"};

}  // namespace

extern const ModelFamily kGemma3Family{"gemma3",    kArchitectures,  kModelTypes, parse_gemma3,
                                       kContainers, kContainerTypes, kTopLevel};

}  // namespace pagedkv
