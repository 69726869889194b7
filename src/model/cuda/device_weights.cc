#include "model/cuda/device_weights.h"

#include <cmath>

#include "core/cuda/cuda_check.h"
#include "core/error.h"
#include "model/cuda/model_kernels.h"
#include "model/model_weights.h"
#include "model/rope.h"
#include "model/safetensors.h"
#include "model/tensor_source.h"

namespace pagedkv::cuda {

namespace {

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

DeviceBuffer upload(const void* src, size_t bytes, const char* what) {
  DeviceBuffer b(bytes, what);
  if (bytes) cuda_check(cudaMemcpy(b.data(), src, bytes, cudaMemcpyHostToDevice), what);
  return b;
}

// Sizes of the fused projections of one layer.
struct Shapes {
  int64_t H, D, Hq, Hkv, qkv, E, I;
  explicit Shapes(const ModelConfig& c)
      : H(c.hidden_size),
        D(c.head_dim),
        Hq(c.num_heads),
        Hkv(c.num_kv_heads),
        qkv((c.num_heads + 2 * c.num_kv_heads) * c.head_dim),
        E(c.num_experts),
        I(c.expert_size) {}
};

// RoPE frequencies of a layer as the CPU model computes them (model/rope.h), or empty (NoPE).
DeviceBuffer inv_freq(const ModelConfig& c, const LayerConfig& l) {
  if (!l.use_rope) return {};
  const std::vector<float> f = Rope(l.rope, c.head_dim, c.rope_style).inv_freq();
  return upload(f.data(), f.size() * sizeof(float), "RoPE frequencies");
}

class Loader {
 public:
  Loader(const TensorSource& store, LoadProgress progress)
      : store_(store), progress_(std::move(progress)) {
    for (const std::string& n : store.names()) total_ += store.stored_bytes(n);
  }

  bool has(const std::string& name) const { return store_.contains(name); }

  // Writes tensor `name` (shape checked) as bf16 into dst starting at element `offset`.
  void bf16_into(const std::string& name, const std::vector<int64_t>& shape, DeviceBuffer& dst,
                 int64_t offset) {
    require(name, shape);
    const std::vector<uint16_t> h = store_.read_bf16(name, shape);
    cuda_check(cudaMemcpy(static_cast<uint16_t*>(dst.data()) + offset, h.data(), h.size() * 2,
                          cudaMemcpyHostToDevice),
               "uploading ", name);
    advance(name);
  }
  DeviceBuffer bf16(const std::string& name, const std::vector<int64_t>& shape) {
    DeviceBuffer b(size_t(numel(shape)) * 2, "model weights");
    bf16_into(name, shape, b, 0);
    return b;
  }
  // f32 tensor (norm weights, biases) or empty when name is empty.
  DeviceBuffer f32(const std::string& name, const std::vector<int64_t>& shape) {
    if (name.empty()) return {};
    require(name, shape);
    const std::vector<float> h = store_.read_f32(name, shape);
    DeviceBuffer b = upload(h.data(), h.size() * sizeof(float), "model weights");
    advance(name);
    return b;
  }
  // f32 biases of several projections concatenated (fused q|k|v, gate|up).
  DeviceBuffer f32_concat(const std::vector<std::string>& names,
                          const std::vector<int64_t>& sizes) {
    std::vector<float> all;
    for (size_t i = 0; i < names.size(); ++i) {
      require(names[i], {sizes[i]});
      const std::vector<float> h = store_.read_f32(names[i], {sizes[i]});
      all.insert(all.end(), h.begin(), h.end());
      advance(names[i]);
    }
    return upload(all.data(), all.size() * sizeof(float), "model biases");
  }
  // Projections stacked row-wise into one [sum(out), in] matrix, biases likewise when `bias`.
  DeviceLinear stacked(const std::vector<std::string>& prefixes, const std::vector<int64_t>& outs,
                       int64_t in, bool bias) {
    DeviceLinear l;
    l.in = in;
    for (int64_t o : outs) l.out += o;
    l.weight = DeviceBuffer(size_t(l.out * in) * 2, "model weights");
    int64_t row = 0;
    std::vector<std::string> bias_names;
    for (size_t i = 0; i < prefixes.size(); ++i) {
      bf16_into(prefixes[i] + ".weight", {outs[i], in}, l.weight, row * in);
      row += outs[i];
      bias_names.push_back(prefixes[i] + ".bias");
    }
    if (bias) l.bias = f32_concat(bias_names, outs);
    return l;
  }
  DeviceLinear linear(const std::string& prefix, int64_t out, int64_t in, bool bias) {
    return stacked({prefix}, {out}, in, bias);
  }

 private:
  void require(const std::string& name, const std::vector<int64_t>& shape) const {
    PKV_CHECK(store_.contains(name), NotFound, store_.where(), ": missing tensor '", name,
              "' (shape ", shape_str(shape), ")");
  }
  void advance(const std::string& name) {
    done_ += store_.stored_bytes(name);
    store_.release(name);
    if (progress_) progress_(done_, total_);
  }

  const TensorSource& store_;
  LoadProgress progress_;
  int64_t done_ = 0, total_ = 0;
};

int64_t device_bytes(const DeviceWeights& w) {
  int64_t n = int64_t(w.embed.bytes() + w.final_norm.bytes() + w.lm_head.bytes());
  auto lin = [](const DeviceLinear& l) { return int64_t(l.weight.bytes() + l.bias.bytes()); };
  for (const DeviceLayer& l : w.layers) {
    n += int64_t(l.attn_norm.bytes() + l.attn_out_norm.bytes() + l.mlp_norm.bytes() +
                 l.mlp_out_norm.bytes() + l.q_norm.bytes() + l.k_norm.bytes() + l.inv_freq.bytes());
    n += lin(l.qkv) + lin(l.o) + lin(l.gate_up) + lin(l.down);
    if (l.moe)
      n += lin(l.moe->router) + int64_t(l.moe->gate_up.bytes() + l.moe->down.bytes()) +
           lin(l.moe->shared_gate_up) + lin(l.moe->shared_down);
  }
  return n;
}

}  // namespace

DeviceWeights load_device_weights(const TensorSource& store, const ModelConfig& c,
                                  const LoadProgress& progress) {
  const Shapes s(c);
  Loader ld(store, progress);
  const ModelTensorNames names = model_tensor_names(c, store);
  check_layer_count(store, c, names);  // before anything per layer is allocated
  DeviceWeights w;
  w.embed = ld.bf16(names.embed, {c.vocab_size, s.H});
  w.final_norm = ld.f32(names.final_norm, {s.H});
  if (!c.tie_word_embeddings) w.lm_head = ld.bf16(names.lm_head, {c.vocab_size, s.H});
  w.layers.resize(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const LayerTensorNames n = layer_tensor_names(c, names, i);
    DeviceLayer& l = w.layers[i];
    l.attn_norm = ld.f32(n.attn_norm, {s.H});
    l.attn_out_norm = ld.f32(n.attn_out_norm, {s.H});
    l.mlp_norm = ld.f32(n.mlp_norm, {s.H});
    l.mlp_out_norm = ld.f32(n.mlp_out_norm, {s.H});
    l.qkv = ld.stacked({n.q, n.k, n.v}, {s.Hq * s.D, s.Hkv * s.D, s.Hkv * s.D}, s.H, c.qkv_bias);
    l.o = ld.linear(n.o, s.H, s.Hq * s.D, c.o_bias);
    l.q_norm = ld.f32(n.q_norm, {s.D});
    l.k_norm = ld.f32(n.k_norm, {s.D});
    l.inv_freq = inv_freq(c, c.layers[i]);
    if (!n.moe.empty()) {
      auto m = std::make_unique<DeviceMoe>();
      m->router = ld.linear(n.moe + ".router", s.E, s.H, false);
      m->gate_up = ld.bf16(n.moe + ".experts.gate_up_proj", {s.E, s.H, 2 * s.I});
      m->down = ld.bf16(n.moe + ".experts.down_proj", {s.E, s.I, s.H});
      const std::string sh = n.moe + ".shared_expert";
      m->shared_gate_up = ld.stacked({sh + ".gate_proj", sh + ".up_proj"}, {s.I, s.I}, s.H, false);
      m->shared_down = ld.linear(sh + ".down_proj", s.H, s.I, false);
      l.moe = std::move(m);
    } else {
      const int64_t I = c.layers[i].mlp_size;
      l.gate_up = ld.stacked({n.mlp + ".gate_proj", n.mlp + ".up_proj"}, {I, I}, s.H, c.mlp_bias);
      l.down = ld.linear(n.mlp + ".down_proj", s.H, I, c.mlp_bias);
    }
  }
  w.bytes = device_bytes(w);
  return w;
}

namespace {

// Random weights: each tensor from its own stream of the generator (seed, counter).
class Maker {
 public:
  explicit Maker(uint64_t seed) : seed_(seed) {}

  DeviceBuffer matrix(int64_t n, float stddev) {
    DeviceBuffer b(size_t(n) * 2, "model weights");
    fill_normal_bf16(b.as<bf16_t>(), n, 0.f, stddev, next(), nullptr);
    return b;
  }
  DeviceBuffer vec(int64_t n, float mean, float stddev) {
    DeviceBuffer b(size_t(n) * 4, "model weights");
    fill_normal_f32(b.as<float>(), n, mean, stddev, next(), nullptr);
    return b;
  }
  DeviceLinear linear(int64_t out, int64_t in, bool bias) {
    DeviceLinear l;
    l.out = out;
    l.in = in;
    l.weight = matrix(out * in, 1.f / std::sqrt(float(in)));
    if (bias) l.bias = vec(out, 0.f, 0.1f);
    return l;
  }

 private:
  uint64_t next() { return seed_ * 0x100000001b3ull + ++counter_; }
  uint64_t seed_, counter_ = 0;
};

}  // namespace

DeviceWeights random_device_weights(const ModelConfig& c, uint64_t seed) {
  const Shapes s(c);
  Maker mk(seed);
  const float norm_mean = c.norm_weight == NormWeight::kOnePlus ? 0.f : 1.f;
  auto norm = [&](const std::string& name, int64_t n) {
    return name.empty() ? DeviceBuffer{} : mk.vec(n, norm_mean, 0.1f);
  };
  DeviceWeights w;
  w.embed = mk.matrix(c.vocab_size * s.H, c.embed_scale != 1.0 ? 1.f / float(c.embed_scale) : 1.f);
  w.final_norm = mk.vec(s.H, norm_mean, 0.1f);
  if (!c.tie_word_embeddings)
    w.lm_head = mk.matrix(c.vocab_size * s.H, 1.f / std::sqrt(float(s.H)));
  w.layers.resize(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const WeightNames& n = c.names;
    DeviceLayer& l = w.layers[i];
    l.attn_norm = norm(n.attn_norm, s.H);
    l.attn_out_norm = norm(n.attn_out_norm, s.H);
    l.mlp_norm = norm(n.mlp_norm, s.H);
    l.mlp_out_norm = norm(n.mlp_out_norm, s.H);
    l.qkv = mk.linear(s.qkv, s.H, c.qkv_bias);
    l.o = mk.linear(s.H, s.Hq * s.D, c.o_bias);
    if (c.qk_norm == QkNorm::kLearnedBeforeRope) {
      l.q_norm = mk.vec(s.D, norm_mean, 0.1f);
      l.k_norm = mk.vec(s.D, norm_mean, 0.1f);
    }
    l.inv_freq = inv_freq(c, c.layers[i]);
    if (c.layers[i].moe) {
      auto m = std::make_unique<DeviceMoe>();
      m->router = mk.linear(s.E, s.H, false);
      m->gate_up = mk.matrix(s.E * s.H * 2 * s.I, 1.f / std::sqrt(float(s.H)));
      m->down = mk.matrix(s.E * s.I * s.H, 1.f / std::sqrt(float(s.I)));
      m->shared_gate_up = mk.linear(2 * s.I, s.H, false);
      m->shared_down = mk.linear(s.H, s.I, false);
      l.moe = std::move(m);
    } else {
      const int64_t I = c.layers[i].mlp_size;
      l.gate_up = mk.linear(2 * I, s.H, c.mlp_bias);
      l.down = mk.linear(s.H, I, c.mlp_bias);
    }
  }
  cuda_check(cudaDeviceSynchronize(), "making random weights");
  w.bytes = device_bytes(w);
  return w;
}

}  // namespace pagedkv::cuda
