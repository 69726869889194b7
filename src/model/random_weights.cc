#include "model/random_weights.h"

#include <cmath>

namespace pagedkv {

namespace {

std::vector<float> normal(Rng& rng, int64_t n, float stddev) {
  std::vector<float> v(n);
  rng.fill_normal(v, stddev);
  return v;
}

Linear linear(Rng& rng, int64_t out, int64_t in, bool bias) {
  Linear l;
  l.in = in;
  l.out = out;
  l.weight = normal(rng, out * in, 1.0f / std::sqrt(float(in)));
  if (bias) l.bias = normal(rng, out, 0.1f);
  return l;
}

GatedMlp mlp(Rng& rng, int64_t hidden, int64_t inter, bool bias, Activation act) {
  GatedMlp m;
  m.gate = linear(rng, inter, hidden, bias);
  m.up = linear(rng, inter, hidden, bias);
  m.down = linear(rng, hidden, inter, bias);
  m.act = act;
  return m;
}

// Plain norms scale by w (around 1); Gemma's scale by 1 + w (w around 0).
std::vector<float> norm_weight(Rng& rng, int64_t n, bool one_plus) {
  std::vector<float> v = normal(rng, n, 0.1f);
  if (!one_plus)
    for (float& x : v) x += 1.0f;
  return v;
}

}  // namespace

ModelWeights random_model_weights(const ModelConfig& c, Rng& rng) {
  const int64_t H = c.hidden_size, D = c.head_dim, V = c.vocab_size;
  const bool gemma = c.family == ModelFamily::kGemma3;
  ModelWeights w;
  w.embed = normal(rng, V * H, gemma ? 1.0f / std::sqrt(float(H)) : 1.0f);
  w.final_norm = norm_weight(rng, H, gemma);
  w.lm_head = c.tie_word_embeddings ? Linear{H, V, w.embed, {}} : linear(rng, V, H, false);
  w.layers.resize(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    LayerWeights& l = w.layers[i];
    l.input_norm = norm_weight(rng, H, gemma);
    l.post_attn_norm = norm_weight(rng, H, gemma);
    if (gemma) {
      l.pre_ff_norm = norm_weight(rng, H, gemma);
      l.post_ff_norm = norm_weight(rng, H, gemma);
    }
    l.attn.q = linear(rng, c.num_heads * D, H, c.attention_bias);
    l.attn.k = linear(rng, c.num_kv_heads * D, H, c.attention_bias);
    l.attn.v = linear(rng, c.num_kv_heads * D, H, c.attention_bias);
    l.attn.o = linear(rng, H, c.num_heads * D, c.attention_bias);
    if (c.learned_qk_norm) {
      l.attn.q_norm = norm_weight(rng, D, gemma);
      l.attn.k_norm = norm_weight(rng, D, gemma);
    }
    if (c.family == ModelFamily::kLlama4 && c.layers[i].moe) {
      auto m = std::make_unique<MoeLayer>();
      const int64_t E = c.num_experts, I = c.intermediate_size;
      m->num_experts = E;
      m->top_k = c.experts_per_token;
      m->hidden = H;
      m->expert_dim = I;
      m->act = c.activation;
      m->router = linear(rng, E, H, false);
      m->gate_up = normal(rng, E * H * 2 * I, 1.0f / std::sqrt(float(H)));
      m->down = normal(rng, E * I * H, 1.0f / std::sqrt(float(I)));
      m->shared = mlp(rng, H, I, false, c.activation);
      l.moe = std::move(m);
    } else {
      const int64_t inter =
          c.family == ModelFamily::kLlama4 ? c.intermediate_size_mlp : c.intermediate_size;
      l.mlp = mlp(rng, H, inter, c.mlp_bias, c.activation);
    }
  }
  return w;
}

}  // namespace pagedkv
