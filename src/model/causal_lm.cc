#include "model/causal_lm.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "attention/decode_gather.h"
#include "attention/decode_validate.h"
#include "attention/paged_decode_cpu.h"
#include "attention/paged_prefill_cpu.h"
#include "core/error.h"
#include "model/norms.h"
#include "model/safetensors.h"

namespace pagedkv {

struct CausalLm::Batch {
  bool prefill = false;
  std::vector<SeqId> seq_of_row;  // [R]
  std::vector<int64_t> pos;       // [R]
  std::vector<SeqId> seqs;        // decode: sequence of row b; prefill: the one sequence
};

namespace {

AttentionRule rule_of(const LayerConfig& l) {
  switch (l.attention) {
    case LayerKind::kFull:
      return AttentionRule::full();
    case LayerKind::kSliding:
      return AttentionRule::sliding(l.window);
    case LayerKind::kChunked:
      return AttentionRule::chunked(l.window);
  }
  return AttentionRule::full();
}

}  // namespace

CausalLm::CausalLm(ModelConfig config, ModelWeights weights)
    : config_(std::move(config)), weights_(std::move(weights)) {
  const RopeStyle style =
      config_.family == ModelFamily::kLlama4 ? RopeStyle::kInterleaved : RopeStyle::kRotateHalf;
  for (const auto& l : config_.layers) ropes_.emplace_back(l.rope, config_.head_dim, style);
}

CausalLm CausalLm::load(const std::string& dir, const std::string& config_name) {
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

KvCacheConfig CausalLm::kv_cache_config(int32_t num_blocks, int32_t block_size, DType dtype) const {
  std::map<std::pair<int, int64_t>, size_t> index;  // (kind, window) -> group
  std::vector<LayerGroupSpec> specs;
  for (int32_t i = 0; i < int32_t(config_.num_layers); ++i) {
    const LayerConfig& l = config_.layers[i];
    const auto key = std::make_pair(int(l.attention), int64_t(l.window));
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, specs.size()).first;
      specs.push_back(LayerGroupSpec{rule_of(l), {}});
    }
    specs[it->second].layers.push_back(i);
  }
  return KvCacheConfig::uniform(std::move(specs), num_blocks, block_size,
                                int32_t(config_.num_kv_heads), int32_t(config_.head_dim), dtype);
}

void CausalLm::attention_layer(KvCache& cache, const Batch& b, int32_t layer, const float* x,
                               float* out) const {
  const ModelConfig& c = config_;
  const LayerConfig& lc = c.layers[layer];
  const AttentionWeights& w = weights_.layers[layer].attn;
  const int64_t R = int64_t(b.pos.size()), Hq = c.num_heads, Hkv = c.num_kv_heads, D = c.head_dim;
  const float eps = float(c.rms_norm_eps);
  std::vector<float> q(R * Hq * D), k(R * Hkv * D), v(R * Hkv * D);  // [R, H*, D]
  w.q.forward(x, R, q.data());
  w.k.forward(x, R, k.data());
  w.v.forward(x, R, v.data());
  if (c.learned_qk_norm) {  // per head, before RoPE; Gemma scales by (1 + w)
    const NormWeight mode =
        c.family == ModelFamily::kGemma3 ? NormWeight::kOnePlus : NormWeight::kPlain;
    rms_norm(q.data(), R * Hq, D, w.q_norm.data(), mode, eps);
    rms_norm(k.data(), R * Hkv, D, w.k_norm.data(), mode, eps);
  }
  if (lc.use_rope) {
    ropes_[layer].apply(q.data(), R, Hq, b.pos.data());
    ropes_[layer].apply(k.data(), R, Hkv, b.pos.data());
    if (c.l2_qk_norm) {  // Llama 4: weightless, after RoPE, RoPE layers only
      rms_norm(q.data(), R * Hq, D, nullptr, NormWeight::kNone, eps);
      rms_norm(k.data(), R * Hkv, D, nullptr, NormWeight::kNone, eps);
    }
  } else if (c.attn_temperature_tuning) {  // Llama 4 NoPE layers
    for (int64_t r = 0; r < R; ++r) {
      const float s = std::log1p(std::floor((float(b.pos[r]) + 1.0f) / float(c.floor_scale))) *
                          float(c.attn_scale) +
                      1.0f;
      for (int64_t i = 0; i < Hq * D; ++i) q[r * Hq * D + i] *= s;
    }
  }
  for (int64_t r = 0; r < R; ++r)
    cache.write(b.seq_of_row[r], layer, b.pos[r], k.data() + r * Hkv * D, v.data() + r * Hkv * D);

  std::vector<float> attn(R * Hq * D);  // [R, Hq, D]
  const int32_t group = cache.group_of_layer(layer);
  const AttentionRule& rule = cache.group_spec(group).rule;
  if (b.prefill) {
    const BlockTable& table = cache.table(group, b.seqs[0]);
    PrefillParams p;
    p.q = q.data();
    p.num_q_heads = int32_t(Hq);
    p.num_tokens = int32_t(R);
    p.q_start = b.pos[0];
    p.kv = cache.layer_view(layer);
    p.blocks = table.blocks().data();
    p.num_blocks = int32_t(table.blocks().size());
    p.base_pos = table.num_released() * table.block_size();
    p.window = rule.kind == AttentionKind::kSliding ? rule.window : 0;
    p.chunk = rule.kind == AttentionKind::kChunked ? rule.chunk : 0;
    p.scale = float(c.query_scale);
    p.softcap = float(c.attn_logit_softcap);
    p.out = attn.data();
    paged_prefill_cpu(p);
  } else {
    // Decode through the group's CSR page list (the visible blocks only), read in place.
    const PageList pages = cache.page_list(group, b.seqs);
    const KvLayerView kv = cache.layer_view(layer);
    const DecodeKernel kernel = resolved_decode_kernel(kv.dtype);
    if (kernel == DecodeKernel::kFusedPaged || kernel == DecodeKernel::kGather) {
      DecodeParams p;
      p.q = q.data();
      p.q_dtype = DType::kF32;
      p.num_q_heads = int32_t(Hq);
      p.kv = kv;
      p.pages = pages.view();
      p.scale = float(c.query_scale);
      p.softcap = float(c.attn_logit_softcap);
      p.out = attn.data();
      if (kernel == DecodeKernel::kGather) {
        thread_local DecodeGatherWorkspace workspace;  // reused across layers and steps
        decode_gather(p, workspace);
      } else {
        paged_decode_cpu(p);
      }
    } else {
      for (int64_t r = 0; r < R; ++r) {  // one query per sequence through the prefill kernel
        const int32_t begin = pages.indptr[r], end = pages.indptr[r + 1];
        PrefillParams p;
        p.q = q.data() + r * Hq * D;
        p.num_q_heads = int32_t(Hq);
        p.num_tokens = 1;
        p.q_start = b.pos[r];
        p.kv = kv;
        p.blocks = pages.indices.data() + begin;
        p.num_blocks = end - begin;
        p.base_pos = b.pos[r] + 1 - pages.visible_len[r] - pages.first_offset[r];
        p.window = rule.kind == AttentionKind::kSliding ? rule.window : 0;
        p.chunk = rule.kind == AttentionKind::kChunked ? rule.chunk : 0;
        p.scale = float(c.query_scale);
        p.softcap = float(c.attn_logit_softcap);
        p.out = attn.data() + r * Hq * D;
        paged_prefill_cpu(p);
      }
    }
  }
  w.o.forward(attn.data(), R, out);
}

std::vector<float> CausalLm::run(KvCache& cache, const Batch& b, std::span<const int32_t> tokens,
                                 bool all_logits) const {
  const ModelConfig& c = config_;
  const int64_t R = int64_t(tokens.size()), H = c.hidden_size, V = c.vocab_size;
  const float eps = float(c.rms_norm_eps);
  const bool gemma = c.family == ModelFamily::kGemma3;
  const NormWeight mode = gemma ? NormWeight::kOnePlus : NormWeight::kPlain;
  std::vector<float> x(R * H), h(R * H), y(R * H);  // [R, H] residual stream, normed, sublayer out
  // Gemma scales embeddings by sqrt(hidden) rounded to the weights' dtype (f32 here).
  const float embed_scale = gemma ? float(std::sqrt(double(H))) : 1.0f;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t i = 0; i < H; ++i)
      x[r * H + i] = weights_.embed[int64_t(tokens[r]) * H + i] * embed_scale;

  for (int32_t layer = 0; layer < int32_t(c.num_layers); ++layer) {
    const LayerWeights& lw = weights_.layers[layer];
    rms_norm_to(x.data(), h.data(), R, H, lw.input_norm.data(), mode, eps);
    attention_layer(cache, b, layer, h.data(), y.data());
    if (gemma) rms_norm(y.data(), R, H, lw.post_attn_norm.data(), mode, eps);
    for (int64_t i = 0; i < R * H; ++i) x[i] += y[i];
    rms_norm_to(x.data(), h.data(), R, H, gemma ? lw.pre_ff_norm.data() : lw.post_attn_norm.data(),
                mode, eps);
    if (lw.moe) {
      lw.moe->forward(h.data(), R, y.data());
    } else {
      lw.mlp.forward(h.data(), R, y.data());
    }
    if (gemma) rms_norm(y.data(), R, H, lw.post_ff_norm.data(), mode, eps);
    for (int64_t i = 0; i < R * H; ++i) x[i] += y[i];
  }
  const int64_t first = all_logits ? 0 : R - 1;
  const int64_t rows = R - first;
  rms_norm_to(x.data() + first * H, h.data(), rows, H, weights_.final_norm.data(), mode, eps);
  std::vector<float> logits(rows * V);  // [rows, V]
  weights_.lm_head.forward(h.data(), rows, logits.data());
  if (c.final_logit_softcap > 0) {
    const float cap = float(c.final_logit_softcap);
    for (float& l : logits) l = std::tanh(l / cap) * cap;
  }
  return logits;
}

void CausalLm::check_prefill(const KvCache& cache, SeqId seq,
                             std::span<const int32_t> tokens) const {
  PKV_CHECK(!tokens.empty(), InvalidArgument, "prefill: no tokens");
  for (int32_t t : tokens)
    PKV_CHECK(t >= 0 && t < config_.vocab_size, InvalidArgument, "prefill: token id ", t,
              " outside the vocabulary of ", config_.vocab_size);
  PKV_CHECK(cache.has_sequence(seq), InvalidArgument, "prefill: unknown sequence ", seq);
  PKV_CHECK(cache.num_layers() == config_.num_layers, InvalidArgument, "prefill: cache has ",
            cache.num_layers(), " layers, model ", config_.num_layers);
}

std::vector<float> CausalLm::run_prefill(KvCache& cache, SeqId seq, int64_t start,
                                         std::span<const int32_t> tokens, bool all_logits) const {
  Batch b;
  b.prefill = true;
  b.seqs = {seq};
  for (size_t i = 0; i < tokens.size(); ++i) {
    b.seq_of_row.push_back(seq);
    b.pos.push_back(start + int64_t(i));
  }
  return run(cache, b, tokens, all_logits);
}

std::vector<float> CausalLm::prefill(KvCache& cache, SeqId seq, std::span<const int32_t> tokens,
                                     bool all_logits) const {
  check_prefill(cache, seq, tokens);
  const int64_t start = cache.prefix_cache_enabled() ? cache.append_tokens(seq, tokens)
                                                     : cache.append(seq, int64_t(tokens.size()));
  return run_prefill(cache, seq, start, tokens, all_logits);
}

std::vector<float> CausalLm::decode(KvCache& cache, std::span<const SeqId> seqs,
                                    std::span<const int32_t> tokens) const {
  PKV_CHECK(!seqs.empty() && seqs.size() == tokens.size(), InvalidArgument, "decode: ", seqs.size(),
            " sequences with ", tokens.size(), " tokens");
  std::set<SeqId> distinct(seqs.begin(), seqs.end());
  PKV_CHECK(distinct.size() == seqs.size(), InvalidArgument, "decode: a sequence appears twice");
  for (size_t i = 0; i < seqs.size(); ++i) {
    PKV_CHECK(cache.has_sequence(seqs[i]) && cache.num_tokens(seqs[i]) >= 1, InvalidArgument,
              "decode: sequence ", seqs[i], " is unknown or has no prefill");
    PKV_CHECK(tokens[i] >= 0 && tokens[i] < config_.vocab_size, InvalidArgument,
              "decode: token id ", tokens[i], " outside the vocabulary of ", config_.vocab_size);
  }
  // The whole batch must fit before anything is appended (all or nothing): per group, the blocks
  // the batch needs beyond those its slides free.
  for (int32_t g = 0; g < cache.num_groups(); ++g) {
    int64_t needed = 0, freed = 0;
    for (SeqId s : seqs) {
      const BlockTable::AppendPlan plan = cache.table(g, s).plan_append(cache.allocator(g), 1);
      needed += plan.needed();
      freed += plan.freed;
    }
    PKV_CHECK(needed <= cache.allocator(g).available() + freed, OutOfMemory, "decode: layer group ",
              g, " needs ", needed, " KV blocks for ", seqs.size(), " sequences, ",
              cache.allocator(g).available() + freed, " available");
  }
  Batch b;
  b.seqs.assign(seqs.begin(), seqs.end());
  for (SeqId s : seqs) {
    b.seq_of_row.push_back(s);
  }
  for (size_t i = 0; i < seqs.size(); ++i)
    b.pos.push_back(cache.prefix_cache_enabled() ? cache.append_tokens(seqs[i], tokens.subspan(i, 1))
                                                 : cache.append(seqs[i], 1));
  return run(cache, b, tokens, true);
}

std::vector<float> CausalLm::prefill_appended(KvCache& cache, SeqId seq, int64_t start,
                                              std::span<const int32_t> tokens, bool all_logits) const {
  check_prefill(cache, seq, tokens);
  PKV_CHECK(start >= 0 && start + int64_t(tokens.size()) <= cache.num_tokens(seq), InvalidArgument,
            "prefill_appended: positions [", start, ", ", start + int64_t(tokens.size()),
            ") are not all appended to sequence ", seq, " (", cache.num_tokens(seq), " positions)");
  return run_prefill(cache, seq, start, tokens, all_logits);
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
