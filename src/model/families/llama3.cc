// Llama 3 (LlamaForCausalLM): the baseline decoder. GQA, rotate-half RoPE with the llama3
// frequency scaling (factor, low / high frequency factors, original max positions), optional
// biases on all four attention projections (attention_bias) and on the MLP (mlp_bias).
#include "model/families/family.h"

namespace pagedkv {

namespace {

ModelConfig parse_llama3(const HfConfig& j) {
  // transformers' LlamaConfig defaults.
  ModelConfig c = parse_decoder(j, {.vocab_size = 32000,
                                    .hidden_size = 4096,
                                    .intermediate_size = 11008,
                                    .num_layers = 32,
                                    .num_heads = 32,
                                    .num_kv_heads = -1,
                                    .head_dim = -1,
                                    .max_position_embeddings = 2048,
                                    .rms_norm_eps = 1e-6,
                                    .rope_theta = 10000.0,
                                    .tie_word_embeddings = false,
                                    .activation = "silu"});
  c.qkv_bias = c.o_bias = j.get<bool>("attention_bias", false);
  c.mlp_bias = j.get<bool>("mlp_bias", false);
  return c;
}

constexpr std::string_view kArchitectures[] = {"LlamaForCausalLM"};
constexpr std::string_view kModelTypes[] = {"llama"};

}  // namespace

extern const ModelFamily kLlama3Family{"llama3", kArchitectures, kModelTypes, parse_llama3};

}  // namespace pagedkv
