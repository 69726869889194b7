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
  std::vector<float> w = normal(rng, out * in, 1.0f / std::sqrt(float(in)));
  return Linear::from_f32(w, out, in, bias ? normal(rng, out, 0.1f) : std::vector<float>{});
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
  const bool one_plus = c.norm_weight == NormWeight::kOnePlus;
  // Scaled embeddings (Gemma 3) are drawn small so that the scaled ones are O(1).
  const float embed_std = c.embed_scale != 1.0 ? 1.0f / float(c.embed_scale) : 1.0f;
  ModelWeights w;
  {
    const std::vector<float> embed = normal(rng, V * H, embed_std);
    w.embed = std::make_shared<PackedMatrix>(PackedMatrix::from_f32(embed.data(), V, H));
  }
  w.final_norm = norm_weight(rng, H, one_plus);
  w.lm_head = c.tie_word_embeddings ? Linear{H, V, w.embed, {}} : linear(rng, V, H, false);
  w.layers.resize(c.num_layers);
  // A norm for every name the config gives, in the order HF declares them.
  auto norm = [&](const std::string& name) {
    return name.empty() ? std::vector<float>{} : norm_weight(rng, H, one_plus);
  };
  for (int64_t i = 0; i < c.num_layers; ++i) {
    LayerWeights& l = w.layers[i];
    l.attn_norm = norm(c.names.attn_norm);
    l.attn_out_norm = norm(c.names.attn_out_norm);
    l.mlp_norm = norm(c.names.mlp_norm);
    l.mlp_out_norm = norm(c.names.mlp_out_norm);
    l.attn.q = linear(rng, c.num_heads * D, H, c.qkv_bias);
    l.attn.k = linear(rng, c.num_kv_heads * D, H, c.qkv_bias);
    l.attn.v = linear(rng, c.num_kv_heads * D, H, c.qkv_bias);
    l.attn.o = linear(rng, H, c.num_heads * D, c.o_bias);
    if (c.qk_norm == QkNorm::kLearnedBeforeRope) {
      l.attn.q_norm = norm_weight(rng, D, one_plus);
      l.attn.k_norm = norm_weight(rng, D, one_plus);
    }
    if (c.layers[i].moe) {
      auto m = std::make_unique<MoeLayer>();
      const int64_t E = c.num_experts, I = c.expert_size;
      m->num_experts = E;
      m->top_k = c.experts_per_token;
      m->hidden = H;
      m->expert_dim = I;
      m->act = c.activation;
      m->router = linear(rng, E, H, false);
      const std::vector<float> gate_up = normal(rng, E * H * 2 * I, 1.0f / std::sqrt(float(H)));
      const std::vector<float> down = normal(rng, E * I * H, 1.0f / std::sqrt(float(I)));
      for (int64_t e = 0; e < E; ++e) {
        m->gate_up.push_back(PackedMatrix::from_f32_kn(gate_up.data() + e * H * 2 * I, H, 2 * I));
        m->down.push_back(PackedMatrix::from_f32_kn(down.data() + e * I * H, I, H));
      }
      m->shared = mlp(rng, H, I, false, c.activation);
      l.moe = std::move(m);
    } else {
      l.mlp = mlp(rng, H, c.layers[i].mlp_size, c.mlp_bias, c.activation);
    }
  }
  return w;
}

}  // namespace pagedkv
