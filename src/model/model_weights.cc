#include "model/model_weights.h"

#include "core/error.h"
#include "model/safetensors.h"

namespace pagedkv {

namespace {

struct Loader {
  const TensorStore& store;

  std::vector<float> tensor(const std::string& name, std::vector<int64_t> shape) const {
    PKV_CHECK(store.contains(name), NotFound, "checkpoint ", store.dir().string(),
              ": missing tensor '", name, "' (shape ", shape_str(shape), ")");
    return store.read_f32(name, shape);
  }
  // An optional norm: empty when the family names none.
  std::vector<float> norm(const std::string& prefix, const std::string& name, int64_t n) const {
    return name.empty() ? std::vector<float>{} : tensor(prefix + name + ".weight", {n});
  }
  Linear linear(const std::string& prefix, int64_t out, int64_t in, bool bias) const {
    Linear l;
    l.in = in;
    l.out = out;
    l.weight = tensor(prefix + ".weight", {out, in});
    if (bias) l.bias = tensor(prefix + ".bias", {out});
    return l;
  }
  GatedMlp mlp(const std::string& prefix, int64_t hidden, int64_t inter, bool bias,
               Activation act) const {
    GatedMlp m;
    m.gate = linear(prefix + ".gate_proj", inter, hidden, bias);
    m.up = linear(prefix + ".up_proj", inter, hidden, bias);
    m.down = linear(prefix + ".down_proj", hidden, inter, bias);
    m.act = act;
    return m;
  }
  // Llama 4's layout: router, fused experts.gate_up_proj [E, H, 2I], experts.down_proj [E, I, H]
  // (both input-major), shared_expert.
  std::unique_ptr<MoeLayer> moe(const std::string& prefix, const ModelConfig& c) const {
    auto m = std::make_unique<MoeLayer>();
    const int64_t E = c.num_experts, I = c.expert_size, H = c.hidden_size;
    m->num_experts = E;
    m->top_k = c.experts_per_token;
    m->hidden = H;
    m->expert_dim = I;
    m->act = c.activation;
    m->router = linear(prefix + ".router", E, H, false);
    m->gate_up = tensor(prefix + ".experts.gate_up_proj", {E, H, 2 * I});
    m->down = tensor(prefix + ".experts.down_proj", {E, I, H});
    m->shared = mlp(prefix + ".shared_expert", H, I, false, c.activation);
    return m;
  }
};

}  // namespace

ModelWeights load_model_weights(const TensorStore& store, const ModelConfig& c) {
  const Loader ld{store};
  const int64_t H = c.hidden_size, D = c.head_dim, V = c.vocab_size;
  ModelWeights w;
  w.embed = ld.tensor("model.embed_tokens.weight", {V, H});
  w.final_norm = ld.tensor("model.norm.weight", {H});
  w.lm_head.in = H;
  w.lm_head.out = V;
  if (c.tie_word_embeddings) {
    w.lm_head.weight = w.embed;
  } else {
    w.lm_head.weight = ld.tensor("lm_head.weight", {V, H});
  }
  const WeightNames& n = c.names;
  w.layers.resize(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = str_cat("model.layers.", i, ".");
    LayerWeights& l = w.layers[i];
    l.attn_norm = ld.norm(p, n.attn_norm, H);
    l.attn_out_norm = ld.norm(p, n.attn_out_norm, H);
    l.mlp_norm = ld.norm(p, n.mlp_norm, H);
    l.mlp_out_norm = ld.norm(p, n.mlp_out_norm, H);
    AttentionWeights& a = l.attn;
    a.q = ld.linear(p + "self_attn.q_proj", c.num_heads * D, H, c.qkv_bias);
    a.k = ld.linear(p + "self_attn.k_proj", c.num_kv_heads * D, H, c.qkv_bias);
    a.v = ld.linear(p + "self_attn.v_proj", c.num_kv_heads * D, H, c.qkv_bias);
    a.o = ld.linear(p + "self_attn.o_proj", H, c.num_heads * D, c.o_bias);
    if (c.qk_norm == QkNorm::kLearnedBeforeRope) {
      a.q_norm = ld.tensor(p + "self_attn.q_norm.weight", {D});
      a.k_norm = ld.tensor(p + "self_attn.k_norm.weight", {D});
    }
    if (c.layers[i].moe) {
      l.moe = ld.moe(p + n.moe, c);
    } else {
      l.mlp = ld.mlp(p + n.mlp, H, c.layers[i].mlp_size, c.mlp_bias, c.activation);
    }
  }
  return w;
}

}  // namespace pagedkv
