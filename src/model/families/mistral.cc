// Mistral (MistralForCausalLM): Llama's decoder without biases, where sliding_window makes every
// layer slide. MistralConfig defaults it to 4096 (Mistral 7B v0.1); an explicit null (later
// versions) means full attention.
#include "model/families/family.h"

namespace pagedkv {

namespace {

ModelConfig parse_mistral(const HfConfig& j) {
  // transformers' MistralConfig defaults.
  ModelConfig c = parse_decoder(j, {.vocab_size = 32000,
                                    .hidden_size = 4096,
                                    .intermediate_size = 14336,
                                    .num_layers = 32,
                                    .num_heads = 32,
                                    .num_kv_heads = 8,
                                    .head_dim = -1,
                                    .max_position_embeddings = 4096 * 32,
                                    .rms_norm_eps = 1e-6,
                                    .rope_theta = 10000.0,
                                    .tie_word_embeddings = false,
                                    .activation = "silu"});
  if (!j.is_null("sliding_window")) {
    const AttentionRule rule = AttentionRule::sliding(get_window(j, "sliding_window", 4096));
    for (LayerConfig& l : c.layers) l.attention = rule;
  }
  return c;
}

constexpr std::string_view kArchitectures[] = {"MistralForCausalLM"};
constexpr std::string_view kModelTypes[] = {"mistral"};

}  // namespace

extern const ModelFamily kMistralFamily{"mistral", kArchitectures, kModelTypes, parse_mistral};

}  // namespace pagedkv
