#include "model/model_weights.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "model/safetensors.h"
#include "model/tensor_source.h"

namespace pagedkv {

namespace {

// Weights are checked for NaN / Inf once, as they are read (one pass over memory the load has
// just touched): a checkpoint with a non-finite weight would otherwise print tokens computed from
// NaN logits as if all were well.
void check_finite(const TensorSource& store, const std::string& name, const float* v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    PKV_CHECK(std::isfinite(v[i]), Corrupt, store.where(), ": tensor '", name,
              "' has a non-finite value (", v[i], ") at element ", i);
}
void check_finite(const TensorSource& store, const std::string& name, const uint16_t* v, size_t n) {
  for (size_t i = 0; i < n; ++i)  // bf16: exponent all ones is Inf or NaN
    PKV_CHECK((v[i] & 0x7f80u) != 0x7f80u, Corrupt, store.where(), ": tensor '", name,
              "' has a non-finite value (bf16 bits 0x", std::hex, v[i], std::dec, ") at element ",
              i);
}

struct Loader {
  const TensorSource& store;

  void require(const std::string& name, const std::vector<int64_t>& shape) const {
    PKV_CHECK(store.contains(name), NotFound, store.where(), ": missing tensor '", name,
              "' (shape ", shape_str(shape), ")");
  }
  std::vector<float> tensor(const std::string& name, std::vector<int64_t> shape) const {
    require(name, shape);
    std::vector<float> v = store.read_f32(name, shape);
    store.release(name);
    check_finite(store, name, v.data(), v.size());
    return v;
  }
  // A matrix [out, in] in the checkpoint's precision (bf16 kept, anything else f32), packed.
  SharedMatrix matrix(const std::string& name, int64_t out, int64_t in) const {
    require(name, {out, in});
    std::shared_ptr<PackedMatrix> m;
    if (store.stored_as_bf16(name)) {
      const std::vector<uint16_t> w = store.read_bf16(name, {out, in});
      check_finite(store, name, w.data(), w.size());
      m = std::make_shared<PackedMatrix>(PackedMatrix::from_bf16(w.data(), out, in));
    } else {
      const std::vector<float> w = store.read_f32(name, {out, in});
      check_finite(store, name, w.data(), w.size());
      m = std::make_shared<PackedMatrix>(PackedMatrix::from_f32(w.data(), out, in));
    }
    store.release(name);
    return m;
  }
  // An optional norm: empty when the family names none.
  std::vector<float> norm(const std::string& name, int64_t n) const {
    return name.empty() ? std::vector<float>{} : tensor(name, {n});
  }
  Linear linear(const std::string& prefix, int64_t out, int64_t in, bool bias) const {
    Linear l;
    l.in = in;
    l.out = out;
    l.weight = matrix(prefix + ".weight", out, in);
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
    const std::vector<float> gate_up = tensor(prefix + ".experts.gate_up_proj", {E, H, 2 * I});
    const std::vector<float> down = tensor(prefix + ".experts.down_proj", {E, I, H});
    for (int64_t e = 0; e < E; ++e) {
      m->gate_up.push_back(PackedMatrix::from_f32_kn(gate_up.data() + e * H * 2 * I, H, 2 * I));
      m->down.push_back(PackedMatrix::from_f32_kn(down.data() + e * I * H, I, H));
    }
    m->shared = mlp(prefix + ".shared_expert", H, I, false, c.activation);
    return m;
  }
};

}  // namespace

ModelTensorNames ModelTensorNames::with_prefix(const std::string& prefix,
                                               const std::string& lm_head) {
  return {prefix, prefix + "embed_tokens.weight", prefix + "norm.weight", lm_head};
}

ModelTensorNames model_tensor_names(const ModelConfig& c, const TensorSource& source) {
  if (!c.container) return {};
  const ModelTensorNames candidates[] = {
      ModelTensorNames::with_prefix("language_model.model.", "language_model.lm_head.weight"),
      ModelTensorNames::with_prefix("model.language_model.", "lm_head.weight"),
  };
  for (const ModelTensorNames& n : candidates)
    if (source.contains(n.embed)) return n;
  fail(ErrorKind::kNotFound,
       str_cat(source.where(), ": ", c.architecture, " checkpoint without its text model's ",
               "embeddings (looked for '", candidates[0].embed, "' and '", candidates[1].embed,
               "')"));
}

LayerTensorNames layer_tensor_names(const ModelConfig& c, const ModelTensorNames& names,
                                    int64_t layer) {
  const std::string p = str_cat(names.prefix, "layers.", layer, ".");
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

void check_layer_count(const TensorSource& store, const ModelConfig& c,
                       const ModelTensorNames& names) {
  // The layers the checkpoint has tensors for: <prefix>layers.<i>.* for i in [0, n).
  const std::string head = names.prefix + "layers.";
  int64_t n = 0;
  for (const std::string& name : store.names()) {
    if (name.compare(0, head.size(), head) != 0) continue;
    int64_t i = -1;
    const char* begin = name.data() + head.size();
    const auto [end, ec] = std::from_chars(begin, name.data() + name.size(), i);
    if (ec == std::errc() && *end == '.' && i >= 0) n = std::max(n, i + 1);
  }
  PKV_CHECK(n == c.num_layers, Corrupt, store.where(), ": config.json num_hidden_layers is ",
            c.num_layers, " but the checkpoint has tensors of ", n, " layers (", head, "0..", n - 1,
            ")", n > c.num_layers ? ": the config would leave layers unused" : "");
}

ModelWeights load_model_weights(const TensorSource& store, const ModelConfig& c) {
  const Loader ld{store};
  const int64_t H = c.hidden_size, D = c.head_dim, V = c.vocab_size;
  const ModelTensorNames names = model_tensor_names(c, store);
  // Before anything is allocated per layer: a config of 10^7 layers over a 2-layer checkpoint
  // is refused here, not after gigabytes of layer structures.
  check_layer_count(store, c, names);
  ModelWeights w;
  w.embed = ld.matrix(names.embed, V, H);
  w.final_norm = ld.tensor(names.final_norm, {H});
  w.lm_head.in = H;
  w.lm_head.out = V;
  w.lm_head.weight = c.tie_word_embeddings ? w.embed : ld.matrix(names.lm_head, V, H);
  w.layers.resize(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const LayerTensorNames n = layer_tensor_names(c, names, i);
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
