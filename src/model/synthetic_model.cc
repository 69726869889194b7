#include "model/synthetic_model.h"

#include <cmath>
#include <utility>

#include "core/error.h"
#include "core/random.h"
#include "model/random_weights.h"

namespace pagedkv {

SyntheticModelSpec SyntheticModelSpec::small() { return SyntheticModelSpec{}; }

SyntheticModelSpec SyntheticModelSpec::medium_100m() {
  return {.vocab_size = 16000,
          .hidden_size = 768,
          .intermediate_size = 2048,
          .num_layers = 12,
          .num_heads = 12,
          .num_kv_heads = 4,
          .head_dim = 64};
}

SyntheticModelSpec SyntheticModelSpec::llama_1b() {
  return {.vocab_size = 128256,
          .hidden_size = 2048,
          .intermediate_size = 8192,
          .num_layers = 16,
          .num_heads = 32,
          .num_kv_heads = 8,
          .head_dim = 64,
          .rope_theta = 500000.0};
}

int64_t SyntheticModelSpec::num_parameters() const {
  const int64_t H = hidden_size, D = head_dim;
  const int64_t attn = H * num_heads * D * 2 + H * num_kv_heads * D * 2;
  const int64_t mlp = 3 * H * intermediate_size;
  return 2 * vocab_size * H + num_layers * (attn + mlp + 2 * H) + H;
}

ModelConfig synthetic_model_config(const SyntheticModelSpec& s) {
  PKV_CHECK(s.vocab_size >= 2 && s.hidden_size >= 1 && s.intermediate_size >= 1 &&
                s.num_layers >= 1 && s.num_kv_heads >= 1 && s.num_heads % s.num_kv_heads == 0 &&
                s.head_dim >= 2 && s.head_dim % 2 == 0,
            InvalidArgument, "synthetic model spec: bad sizes (vocab ", s.vocab_size, ", hidden ",
            s.hidden_size, ", heads ", s.num_heads, "/", s.num_kv_heads, ", head_dim ", s.head_dim,
            ")");
  ModelConfig c;
  c.family = "llama3";
  c.architecture = "LlamaForCausalLM (synthetic)";
  c.vocab_size = s.vocab_size;
  c.hidden_size = s.hidden_size;
  c.num_layers = s.num_layers;
  c.num_heads = s.num_heads;
  c.num_kv_heads = s.num_kv_heads;
  c.head_dim = s.head_dim;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  c.query_scale = 1.0 / std::sqrt(double(s.head_dim));
  c.activation = Activation::kSilu;
  c.layers.resize(s.num_layers);
  for (LayerConfig& l : c.layers) {
    l.rope.type = RopeType::kDefault;
    l.rope.theta = s.rope_theta;
    l.mlp_size = s.intermediate_size;
  }
  return c;
}

CausalLm make_synthetic_model(const SyntheticModelSpec& s) {
  ModelConfig c = synthetic_model_config(s);
  Rng rng(s.seed);
  ModelWeights w = random_model_weights(c, rng);
  return CausalLm(std::move(c), std::move(w));
}

}  // namespace pagedkv
