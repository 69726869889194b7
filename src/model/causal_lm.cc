#include "model/causal_lm.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "attention/decode_validate.h"
#include "core/error.h"
#include "model/gguf_checkpoint.h"
#include "model/norms.h"
#include "model/safetensors.h"

namespace pagedkv {

CausalLm::CausalLm(ModelConfig config, ModelWeights weights)
    : config_(std::move(config)), weights_(std::move(weights)) {
  for (const auto& l : config_.layers)
    ropes_.emplace_back(l.rope, config_.head_dim, config_.rope_style);
}

CausalLm CausalLm::load(const std::string& dir, const std::string& config_name) {
  if (is_gguf_path(dir)) {
    const GgufFile file = GgufFile::open(dir);
    ModelConfig config = gguf_model_config(file);
    ModelWeights weights = load_model_weights(GgufTensors(file, config), config);
    return CausalLm(std::move(config), std::move(weights));
  }
  ModelConfig config = load_model_config(dir, config_name);
  TensorStore store = TensorStore::open(dir);
  ModelWeights weights = load_model_weights(store, config);
  return CausalLm(std::move(config), std::move(weights));
}

DecodeKernel CausalLm::resolved_decode_kernel(DType kv) const {
  if (decode_kernel_ != DecodeKernel::kAuto) return decode_kernel_;
  const bool fused_ok =
      is_supported_decode_head_dim(int32_t(config_.head_dim)) && kv != DType::kFP8E4M3;
  return fused_ok ? DecodeKernel::kFusedPaged : DecodeKernel::kPagedPrefill;
}

KvCacheConfig kv_cache_config_for(const ModelConfig& c, int32_t num_blocks, int32_t block_size,
                                  DType dtype) {
  std::vector<LayerGroupSpec> specs;
  for (int32_t i = 0; i < int32_t(c.num_layers); ++i) {
    const AttentionRule& rule = c.layers[i].attention;
    auto it = std::find_if(specs.begin(), specs.end(),
                           [&](const LayerGroupSpec& s) { return s.rule == rule; });
    if (it == specs.end()) it = specs.insert(specs.end(), LayerGroupSpec{rule, {}});
    it->layers.push_back(i);
  }
  return KvCacheConfig::uniform(std::move(specs), num_blocks, block_size, int32_t(c.num_kv_heads),
                                int32_t(c.head_dim), dtype);
}

KvCacheConfig CausalLm::kv_cache_config(int32_t num_blocks, int32_t block_size, DType dtype) const {
  return kv_cache_config_for(config_, num_blocks, block_size, dtype);
}

std::vector<float> CausalLm::forward(KvCache& cache, const ForwardRows& rows,
                                     std::span<const int32_t> tokens, bool all_logits) const {
  const ModelConfig& c = config_;
  const int64_t R = int64_t(tokens.size()), H = c.hidden_size, V = c.vocab_size;
  const float eps = float(c.rms_norm_eps);
  const NormWeight mode = c.norm_weight;
  const DecodeKernel kernel = resolved_decode_kernel(cache.geometry(0).dtype);
  std::vector<float> x(R * H), h(R * H), y(R * H);  // [R, H] residual stream, normed, sublayer out
  const float embed_scale = float(c.embed_scale);
  for (int64_t r = 0; r < R; ++r) {
    weights_.embed->row(tokens[r], x.data() + r * H);
    for (int64_t i = 0; i < H; ++i) x[r * H + i] *= embed_scale;
  }

  for (int32_t layer = 0; layer < int32_t(c.num_layers); ++layer) {
    const LayerWeights& lw = weights_.layers[layer];
    rms_norm_to(x.data(), h.data(), R, H, lw.attn_norm.data(), mode, eps);
    attention_forward(c, layer, lw.attn, ropes_[layer], kernel, cache, rows, h.data(), y.data());
    if (!lw.attn_out_norm.empty()) rms_norm(y.data(), R, H, lw.attn_out_norm.data(), mode, eps);
    for (int64_t i = 0; i < R * H; ++i) x[i] += y[i];
    rms_norm_to(x.data(), h.data(), R, H, lw.mlp_norm.data(), mode, eps);
    if (lw.moe) {
      lw.moe->forward(h.data(), R, y.data());
    } else {
      lw.mlp.forward(h.data(), R, y.data());
    }
    if (!lw.mlp_out_norm.empty()) rms_norm(y.data(), R, H, lw.mlp_out_norm.data(), mode, eps);
    for (int64_t i = 0; i < R * H; ++i) x[i] += y[i];
  }
  const int64_t first = all_logits ? 0 : R - 1;
  const int64_t out_rows = R - first;
  rms_norm_to(x.data() + first * H, h.data(), out_rows, H, weights_.final_norm.data(), mode, eps);
  std::vector<float> logits(out_rows * V);  // [out_rows, V]
  weights_.lm_head.forward(h.data(), out_rows, logits.data());
  if (c.final_logit_softcap > 0) {
    const float cap = float(c.final_logit_softcap);
    for (float& l : logits) l = std::tanh(l / cap) * cap;
  }
  return logits;
}

std::vector<float> CausalLm::prefill(KvCache& cache, SeqId seq, std::span<const int32_t> tokens,
                                     bool all_logits) const {
  return forward(cache, append_prefill_rows(config_, cache, seq, tokens), tokens, all_logits);
}

std::vector<float> CausalLm::prefill_appended(KvCache& cache, SeqId seq, int64_t start,
                                              std::span<const int32_t> tokens,
                                              bool all_logits) const {
  return forward(cache, appended_prefill_rows(config_, cache, seq, start, tokens), tokens,
                 all_logits);
}

std::vector<float> CausalLm::decode(KvCache& cache, std::span<const SeqId> seqs,
                                    std::span<const int32_t> tokens) const {
  return forward(cache, append_decode_rows(config_, cache, seqs, tokens), tokens, true);
}

std::vector<int32_t> generate_greedy(const CausalLm& model, std::span<const int32_t> prompt,
                                     int32_t max_new_tokens, int32_t block_size) {
  PKV_CHECK(max_new_tokens >= 0, InvalidArgument, "max_new_tokens must be >= 0");
  const int64_t total = int64_t(prompt.size()) + max_new_tokens;
  KvCache cache(model.kv_cache_config(int32_t(total / block_size + 2), block_size));
  const SeqId seq = 0;
  cache.add_sequence(seq);
  std::vector<int32_t> out;
  if (max_new_tokens == 0) return out;
  const int64_t V = model.config().vocab_size;
  auto argmax = [&](const float* l) {
    return int32_t(std::max_element(l, l + V) - l);  // first maximum, as torch.argmax
  };
  std::vector<float> logits = model.prefill(cache, seq, prompt, false);
  out.push_back(argmax(logits.data()));
  while (int32_t(out.size()) < max_new_tokens) {
    const int32_t last = out.back();
    logits =
        model.decode(cache, std::span<const SeqId>(&seq, 1), std::span<const int32_t>(&last, 1));
    out.push_back(argmax(logits.data()));
  }
  return out;
}

}  // namespace pagedkv
