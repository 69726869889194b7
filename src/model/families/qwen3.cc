// Qwen 3 (Qwen3ForCausalLM): Qwen 2's layout without the forced q/k/v biases (attention_bias
// applies to all four projections), plus a learned per-head RMSNorm of q and k before RoPE.
#include "model/families/family.h"

namespace pagedkv {

namespace {

ModelConfig parse_qwen3(const HfConfig& j) {
  // transformers' Qwen3Config defaults.
  constexpr double kTheta = 10000.0;
  ModelConfig c = parse_decoder(j, {.vocab_size = 151936,
                                    .hidden_size = 4096,
                                    .intermediate_size = 22016,
                                    .num_layers = 32,
                                    .num_heads = 32,
                                    .num_kv_heads = 32,
                                    .head_dim = 128,
                                    .max_position_embeddings = 32768,
                                    .rms_norm_eps = 1e-6,
                                    .rope_theta = kTheta,
                                    .tie_word_embeddings = false,
                                    .activation = "silu"});
  c.qkv_bias = c.o_bias = j.get<bool>("attention_bias", false);
  c.qk_norm = QkNorm::kLearnedBeforeRope;
  apply_qwen_layer_types(j, c, kTheta);
  return c;
}

constexpr std::string_view kArchitectures[] = {"Qwen3ForCausalLM"};
constexpr std::string_view kModelTypes[] = {"qwen3"};

}  // namespace

extern const ModelFamily kQwen3Family{"qwen3", kArchitectures, kModelTypes, parse_qwen3};

}  // namespace pagedkv
