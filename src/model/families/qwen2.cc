// Qwen 2 / 2.5 (Qwen2ForCausalLM): Llama's decoder with biases on the q, k and v projections
// (never on o_proj), and an optional sliding window on layers >= max_window_layers.
#include "model/families/family.h"

namespace pagedkv {

namespace {

ModelConfig parse_qwen2(const HfConfig& j) {
  // transformers' Qwen2Config defaults.
  constexpr double kTheta = 10000.0;
  ModelConfig c = parse_decoder(j, {.vocab_size = 151936,
                                    .hidden_size = 4096,
                                    .intermediate_size = 22016,
                                    .num_layers = 32,
                                    .num_heads = 32,
                                    .num_kv_heads = 32,
                                    .head_dim = -1,
                                    .max_position_embeddings = 32768,
                                    .rms_norm_eps = 1e-6,
                                    .rope_theta = kTheta,
                                    .tie_word_embeddings = false,
                                    .activation = "silu"});
  c.qkv_bias = true;
  apply_qwen_layer_types(j, c, kTheta);
  return c;
}

constexpr std::string_view kArchitectures[] = {"Qwen2ForCausalLM"};
constexpr std::string_view kModelTypes[] = {"qwen2"};

}  // namespace

extern const ModelFamily kQwen2Family{"qwen2", kArchitectures, kModelTypes, parse_qwen2};

}  // namespace pagedkv
