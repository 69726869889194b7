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
  std::vector<float> norm(const std::string& name, int64_t n) const {
    return name.empty() ? std::vector<float>{} : tensor(name, {n});
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

LayerTensorNames layer_tensor_names(const ModelConfig& c, int64_t layer) {
  const std::string p = str_cat("model.layers.", layer, ".");
  const WeightNames& n = c.names;
  auto norm = [&](const std::string& name) { return name.empty() ? name : p + name + ".weight"; };
  LayerTensorNames t;
  t.attn_norm = norm(n.attn_norm);
  t.attn_out_norm = norm(n.attn_out_norm);
  t.mlp_norm = norm(n.mlp_norm);
  t.mlp_out_norm = norm(n.mlp_out_norm);
  t.q = p + "self_attn.q_proj";
  t.k = p + "self_attn.k_proj";
  t.v = p + "self_attn.v_proj";
  t.o = p + "self_attn.o_proj";
  if (c.qk_norm == QkNorm::kLearnedBeforeRope) {
    t.q_norm = p + "self_attn.q_norm.weight";
    t.k_norm = p + "self_attn.k_norm.weight";
  }
  (c.layers[layer].moe ? t.moe : t.mlp) = p + (c.layers[layer].moe ? n.moe : n.mlp);
  return t;
}

ModelWeights load_model_weights(const TensorStore& store, const ModelConfig& c) {
  const Loader ld{store};
  const int64_t H = c.hidden_size, D = c.head_dim, V = c.vocab_size;
  const ModelTensorNames names;
  ModelWeights w;
  w.embed = ld.tensor(names.embed, {V, H});
  w.final_norm = ld.tensor(names.final_norm, {H});
  w.lm_head.in = H;
  w.lm_head.out = V;
  if (c.tie_word_embeddings) {
    w.lm_head.weight = w.embed;
  } else {
    w.lm_head.weight = ld.tensor(names.lm_head, {V, H});
  }
  w.layers.resize(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const LayerTensorNames n = layer_tensor_names(c, i);
    LayerWeights& l = w.layers[i];
    l.attn_norm = ld.norm(n.attn_norm, H);
    l.attn_out_norm = ld.norm(n.attn_out_norm, H);
    l.mlp_norm = ld.norm(n.mlp_norm, H);
    l.mlp_out_norm = ld.norm(n.mlp_out_norm, H);
    AttentionWeights& a = l.attn;
    a.q = ld.linear(n.q, c.num_heads * D, H, c.qkv_bias);
    a.k = ld.linear(n.k, c.num_kv_heads * D, H, c.qkv_bias);
    a.v = ld.linear(n.v, c.num_kv_heads * D, H, c.qkv_bias);
    a.o = ld.linear(n.o, H, c.num_heads * D, c.o_bias);
    if (!n.q_norm.empty()) {
      a.q_norm = ld.tensor(n.q_norm, {D});
      a.k_norm = ld.tensor(n.k_norm, {D});
    }
    if (!n.moe.empty()) {
      l.moe = ld.moe(n.moe, c);
    } else {
      l.mlp = ld.mlp(n.mlp, H, c.layers[i].mlp_size, c.mlp_bias, c.activation);
    }
  }
  return w;
}

}  // namespace pagedkv
