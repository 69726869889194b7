#include "model/cuda/causal_lm_cuda.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <utility>

#include "attention/cuda/head_dim.h"
#include "attention/cuda/paged_decode_cuda.h"
#include "attention/cuda/paged_prefill_cuda.h"
#include "core/cuda/cuda_check.h"
#include "core/error.h"
#include "kv/cuda/device_kv_storage.h"
#include "model/causal_lm.h"
#include "model/cuda/decode_graphs.h"
#include "model/cuda/gemm.h"
#include "model/cuda/model_kernels.h"
#include "model/cuda/step_upload.h"
#include "model/forward_rows.h"
#include "model/gguf_checkpoint.h"
#include "model/safetensors.h"

namespace pagedkv {

using cuda::bf16_t;

namespace {

// Device activations of one forward pass, grown to the largest row count seen.
struct Activations {
  int64_t rows = 0;
  DeviceBuffer x;       // f32 [R, H] residual stream
  DeviceBuffer h;       // bf16 [R, H] normed input of the next GEMM
  DeviceBuffer qkv;     // bf16 [R, (Hq + 2 Hkv) D]
  DeviceBuffer q;       // bf16 [R, Hq D]
  DeviceBuffer attn;    // bf16 [R, Hq D]
  DeviceBuffer y;       // bf16 [R, H] sublayer output
  DeviceBuffer gu;      // bf16 [R, 2 I]
  DeviceBuffer act;     // bf16 [R, I]
  DeviceBuffer acc;     // f32 [R, H] MoE output
  DeviceBuffer router;  // f32 [R, E]
  DeviceBuffer logits;  // f32 [R, V]
  // MoE: routed rows (top_k per token), grouped by expert.
  DeviceBuffer routed_x, routed_gu, routed_act, routed_y;  // bf16 [R k, H / 2I / I / H]
  DeviceBuffer routed_rows, routed_scale;                  // int32 / f32 [R k]

  // Calls f(buffer, bytes) for every buffer a pass of R rows needs.
  template <typename F>
  void each(int64_t R, const ModelConfig& c, F f) {
    const int64_t H = c.hidden_size, D = c.head_dim, V = c.vocab_size;
    int64_t I = c.expert_size;
    for (const LayerConfig& l : c.layers) I = std::max(I, l.mlp_size);
    const int64_t K = std::max<int64_t>(c.experts_per_token, 1);
    f(x, R * H * 4);
    f(h, R * H * 2);
    f(qkv, R * (c.num_heads + 2 * c.num_kv_heads) * D * 2);
    f(q, R * c.num_heads * D * 2);
    f(attn, R * c.num_heads * D * 2);
    f(y, R * H * 2);
    f(gu, R * 2 * I * 2);
    f(act, R * I * 2);
    f(logits, R * V * 4);
    if (c.num_experts > 0) {
      f(acc, R * H * 4);
      f(router, R * c.num_experts * 4);
      f(routed_x, R * K * H * 2);
      f(routed_gu, R * K * 2 * c.expert_size * 2);
      f(routed_act, R * K * c.expert_size * 2);
      f(routed_y, R * K * H * 2);
      f(routed_rows, R * K * 4);
      f(routed_scale, R * K * 4);
    }
  }
  void ensure(int64_t R, const ModelConfig& c) {
    if (R <= rows) return;
    each(R, c,
         [](DeviceBuffer& b, int64_t bytes) { b = DeviceBuffer(size_t(bytes), "activations"); });
    rows = R;
  }
  static int64_t bytes(int64_t R, const ModelConfig& c) {
    Activations none;
    int64_t total = 0;
    none.each(R, c, [&](DeviceBuffer&, int64_t n) { total += n; });
    return total;
  }
};

// The decode kernel's plan and workspace for one batch size and length bucket.
struct DecodePlan {
  PagedDecodeCudaPlan plan;
  DeviceBuffer workspace;
};

const float* f32(const DeviceBuffer& b) { return b.data() ? b.as<float>() : nullptr; }

}  // namespace

struct CausalLmCuda::Impl {
  ModelConfig config;
  cuda::DeviceWeights weights;
  cudaStream_t stream = nullptr;
  cuda::Gemm gemm;
  Activations a;
  cuda::StepUpload eager_meta;  // eager passes
  cuda::StepUpload graph_meta;  // graphed decode steps: a fixed layout
  cuda::DecodeGraphs graphs;
  bool graphs_on = true;
  bool batch_invariant = false;         // see set_batch_invariant()
  std::vector<const void*> graph_pool;  // the K/V addresses the graphs were captured over
  std::map<std::pair<int32_t, int32_t>, DecodePlan> decode_plans;  // (B, length bucket)
  std::vector<float> host_router;                                  // [R, E]

  Impl(ModelConfig c, cuda::DeviceWeights w) : config(std::move(c)), weights(std::move(w)) {
    cuda_check(cudaStreamCreate(&stream), "creating the model's stream");
    // Llama 4's MoE routes on the host mid-pass (a synchronisation no graph can hold).
    const char* env = std::getenv("PAGEDKV_CUDA_GRAPHS");
    graphs_on = config.num_experts == 0 && !(env && std::string(env) == "0");
    const char* inv = std::getenv("PAGEDKV_BATCH_INVARIANT");
    set_batch_invariant(inv != nullptr && std::string(inv) == "1");
  }
  void set_batch_invariant(bool on) {
    batch_invariant = on;
    gemm.set_batch_invariant(on);
    graphs.clear();  // captured with the other kernels
  }
  ~Impl() {
    graphs.clear();
    if (stream) cudaStreamDestroy(stream);
  }

  // Runs the pass up to the logits of rows [first, R) in a.logits (f32 [R - first, V]) without
  // waiting for it; returns R - first.
  int64_t run_pass(KvCache& cache, const ForwardRows& rows, std::span<const int32_t> tokens,
                   bool all_logits);
  std::vector<float> forward(KvCache& cache, const ForwardRows& rows,
                             std::span<const int32_t> tokens, bool all_logits);
  void grow(int64_t R);
  void check_graph_pool(const KvCache& cache);
  void enqueue(KvCache& cache, const cuda::StepUpload& m, int64_t R, bool prefill, int64_t first);
  void attention(KvCache& cache, const cuda::StepUpload& m, int64_t R, bool prefill, int32_t layer);
  void dense_mlp(const cuda::DeviceLayer& l, int64_t R, int64_t inter);
  void moe_mlp(const cuda::DeviceMoe& m, int64_t R);
  DecodePlan& decode_plan(int32_t batch, int32_t max_visible, DType kv_dtype);
};

namespace {

// The decode plan's expected length, a power of two >= 256 (it only tunes the split count).
int32_t length_bucket(int32_t max_visible) {
  int32_t bucket = 256;
  while (bucket < max_visible && bucket < (1 << 20)) bucket *= 2;
  return bucket;
}

}  // namespace

DecodePlan& CausalLmCuda::Impl::decode_plan(int32_t batch, int32_t max_visible, DType kv_dtype) {
  const int32_t bucket = length_bucket(max_visible);
  auto it = decode_plans.find({batch, bucket});
  if (it == decode_plans.end()) {
    PagedDecodeCudaShape s;
    s.batch_size = batch;
    s.num_q_heads = int32_t(config.num_heads);
    s.num_kv_heads = int32_t(config.num_kv_heads);
    s.head_dim = int32_t(config.head_dim);
    s.kv_dtype = kv_dtype;
    s.q_dtype = DType::kBF16;
    s.expected_len = bucket;
    DecodePlan p{plan_paged_decode_cuda(s), {}};
    p.workspace = DeviceBuffer(p.plan.workspace_bytes, "decode workspace");
    init_paged_decode_workspace(p.plan, p.workspace.data(), stream);
    it = decode_plans.emplace(std::make_pair(batch, bucket), std::move(p)).first;
  }
  return it->second;
}

void CausalLmCuda::Impl::attention(KvCache& cache, const cuda::StepUpload& meta, int64_t R,
                                   bool prefill, int32_t layer) {
  const ModelConfig& c = config;
  const cuda::DeviceLayer& l = weights.layers[layer];
  const int32_t g = cache.group_of_layer(layer);
  const cuda::StepUpload::Group& m = meta.group(g);
  const KvLayerView kv = cache.layer_view(layer);
  gemm.linear(a.h.data(), l.qkv.weight.data(), a.qkv.data(), DType::kBF16, R, l.qkv.out, l.qkv.in,
              stream);
  cuda::QkvArgs q;
  q.qkv = a.qkv.as<bf16_t>();
  q.bias = f32(l.qkv.bias);
  q.q_norm = f32(l.q_norm);
  q.k_norm = f32(l.k_norm);
  q.inv_freq = f32(l.inv_freq);
  q.pos = meta.positions();
  q.slots = m.slots;
  q.q = a.q.as<bf16_t>();
  q.pool = kv;
  q.rows = R;
  q.num_q_heads = int32_t(c.num_heads);
  q.num_kv_heads = int32_t(c.num_kv_heads);
  q.head_dim = int32_t(c.head_dim);
  q.qk_norm = c.qk_norm;
  q.norm_mode = c.norm_weight;
  q.rope_style = c.rope_style;
  q.temperature_tuning = c.layers[layer].temperature_tuning;
  q.floor_scale = float(c.floor_scale);
  q.attn_scale = float(c.attn_scale);
  q.eps = float(c.rms_norm_eps);
  q.programmatic = gemm.programmatic();
  cuda::qkv_positions_write(q, stream);

  const AttentionRule& rule = cache.group_spec(g).rule;
  if (prefill || batch_invariant) {
    // Batch-invariant decode runs the prefill kernel too (one row per sequence, no split of the
    // keys, tiles at absolute positions), so a token's K/V and output get the same bits whether it
    // is decoded in any batch or recomputed in a prefill after a preemption.
    PagedPrefillCudaShape s;
    s.num_q_heads = int32_t(c.num_heads);
    s.num_kv_heads = int32_t(c.num_kv_heads);
    s.head_dim = int32_t(c.head_dim);
    s.q_dtype = DType::kBF16;
    s.kv_dtype = kv.dtype;
    s.num_seqs = prefill ? 1 : m.pages.batch_size;
    s.max_seq_rows = prefill ? int32_t(R) : 1;
    PagedPrefillCudaParams p;
    p.q = a.q.data();
    p.num_tokens = int32_t(R);
    p.q_indptr = m.q_indptr;
    p.q_pos = m.q_pos;
    p.kv = kv;
    p.kv_indptr = m.kv_indptr;
    p.kv_indices = m.kv_indices;
    p.kv_base = m.kv_base;
    p.rule = rule;
    p.scale = float(c.query_scale);
    p.softcap = float(c.attn_logit_softcap);
    p.out = a.attn.data();
    paged_prefill_cuda(plan_paged_prefill_cuda(s), p, stream);
  } else {
    DecodePlan& plan = decode_plan(m.pages.batch_size, m.max_visible, kv.dtype);
    DecodeParams p;
    p.q = a.q.data();
    p.q_dtype = DType::kBF16;
    p.num_q_heads = int32_t(c.num_heads);
    p.kv = kv;
    p.pages = m.pages;
    p.scale = float(c.query_scale);
    p.softcap = float(c.attn_logit_softcap);
    p.out = a.attn.data();
    paged_decode_cuda(plan.plan, p, plan.workspace.data(), stream);
  }
  gemm.linear(a.attn.data(), l.o.weight.data(), a.y.data(), DType::kBF16, R, l.o.out, l.o.in,
              stream);
}

void CausalLmCuda::Impl::dense_mlp(const cuda::DeviceLayer& l, int64_t R, int64_t inter) {
  gemm.linear(a.h.data(), l.gate_up.weight.data(), a.gu.data(), DType::kBF16, R, 2 * inter,
              l.gate_up.in, stream);
  const float* bias = f32(l.gate_up.bias);
  cuda::gated_activation(a.gu.as<bf16_t>(), bias, bias ? bias + inter : nullptr, config.activation,
                         a.act.as<bf16_t>(), R, inter, stream, gemm.programmatic());
  gemm.linear(a.act.data(), l.down.weight.data(), a.y.data(), DType::kBF16, R, l.down.out, inter,
              stream);
}

// Llama 4's MoE (model/moe.h): the router's logits come to the host, which picks each token's
// top-k experts and groups the rows by expert (one small copy each way); each expert then runs
// as one GEMM over its rows (scaled by sigmoid(logit) first), and its outputs are added to the
// shared expert's, experts in index order.
void CausalLmCuda::Impl::moe_mlp(const cuda::DeviceMoe& m, int64_t R) {
  const ModelConfig& c = config;
  const int64_t E = c.num_experts, K = c.experts_per_token, H = c.hidden_size, I = c.expert_size;
  gemm.linear(a.h.data(), m.router.weight.data(), a.router.data(), DType::kF32, R, E, H, stream);
  host_router.resize(size_t(R * E));
  cuda_check(cudaMemcpyAsync(host_router.data(), a.router.data(), host_router.size() * 4,
                             cudaMemcpyDeviceToHost, stream),
             "router logits");
  // The shared expert meanwhile (queued behind the copy on the same stream).
  gemm.linear(a.h.data(), m.shared_gate_up.weight.data(), a.gu.data(), DType::kBF16, R, 2 * I, H,
              stream);
  cuda::gated_activation(a.gu.as<bf16_t>(), nullptr, nullptr, c.activation, a.act.as<bf16_t>(), R,
                         I, stream);
  gemm.linear(a.act.data(), m.shared_down.weight.data(), a.y.data(), DType::kBF16, R, H, I, stream);
  cuda::widen_bf16(a.y.as<bf16_t>(), a.acc.as<float>(), R * H, stream);
  cuda_check(cudaStreamSynchronize(stream), "router logits");
  // Top-k per token, largest first, ties to the lower index (as the CPU model).
  std::vector<std::vector<std::pair<int32_t, float>>> members(
      static_cast<size_t>(E));  // [E][(row, score)]
  std::vector<int64_t> order(static_cast<size_t>(E));
  for (int64_t r = 0; r < R; ++r) {
    const float* l = host_router.data() + r * E;
    for (int64_t e = 0; e < E; ++e) order[e] = e;
    std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return l[x] > l[y]; });
    for (int64_t k = 0; k < K; ++k)
      members[order[k]].push_back({int32_t(r), 1.f / (1.f + std::exp(-l[order[k]]))});
  }
  std::vector<int32_t> rows;
  std::vector<float> scale;
  std::vector<int64_t> begin(size_t(E) + 1, 0);
  for (int64_t e = 0; e < E; ++e) {
    for (const auto& [r, s] : members[e]) {
      rows.push_back(r);
      scale.push_back(s);
    }
    begin[e + 1] = int64_t(rows.size());
  }
  cuda_check(cudaMemcpyAsync(a.routed_rows.data(), rows.data(), rows.size() * 4,
                             cudaMemcpyHostToDevice, stream),
             "routing");
  cuda_check(cudaMemcpyAsync(a.routed_scale.data(), scale.data(), scale.size() * 4,
                             cudaMemcpyHostToDevice, stream),
             "routing");
  const int32_t* d_rows = a.routed_rows.as<int32_t>();
  const float* d_scale = a.routed_scale.as<float>();
  for (int64_t e = 0; e < E; ++e) {
    const int64_t n = begin[e + 1] - begin[e];
    if (n == 0) continue;  // an unpicked expert adds exact zeros
    bf16_t* xe = a.routed_x.as<bf16_t>();
    cuda::gather_scaled_rows(a.h.as<bf16_t>(), d_rows + begin[e], d_scale + begin[e], xe, n, H,
                             stream);
    gemm.matmul_kn(xe, m.gate_up.as<bf16_t>() + e * H * 2 * I, a.routed_gu.data(), DType::kBF16, n,
                   2 * I, H, stream);
    cuda::gated_activation(a.routed_gu.as<bf16_t>(), nullptr, nullptr, c.activation,
                           a.routed_act.as<bf16_t>(), n, I, stream);
    gemm.matmul_kn(a.routed_act.data(), m.down.as<bf16_t>() + e * I * H, a.routed_y.data(),
                   DType::kBF16, n, H, I, stream);
    cuda::scatter_add_rows(a.acc.as<float>(), a.routed_y.as<bf16_t>(), d_rows + begin[e], n, H,
                           stream);
  }
  // `rows` and `scale` must outlive their async copies.
  cuda_check(cudaStreamSynchronize(stream), "MoE routing");
}

void CausalLmCuda::Impl::grow(int64_t R) {
  if (R <= a.rows) return;
  graphs.clear();  // they address the old activations
  a.ensure(R, config);
}

void CausalLmCuda::Impl::check_graph_pool(const KvCache& cache) {
  std::vector<const void*> pool;
  for (int32_t layer = 0; layer < int32_t(config.num_layers); ++layer) {
    const KvLayerView v = cache.layer_view(layer);
    pool.insert(pool.end(), {v.k, v.v});
  }
  if (pool == graph_pool) return;
  graphs.clear();  // captured over another pool
  graph_pool = std::move(pool);
}

int64_t CausalLmCuda::Impl::run_pass(KvCache& cache, const ForwardRows& rows,
                                     std::span<const int32_t> tokens, bool all_logits) {
  const int64_t R = rows.size();
  const int32_t P = graphs_on && !rows.prefill ? cuda::DecodeGraphs::padded_batch(R) : 0;
  if (P == 0) {
    grow(R);
    eager_meta.build_and_upload(cache, rows, tokens, stream);
    const int64_t first = all_logits ? 0 : R - 1;
    enqueue(cache, eager_meta, R, rows.prefill, first);
    return R - first;
  }
  grow(P);
  check_graph_pool(cache);
  if (graph_meta.build_and_upload_padded(cache, rows, tokens, P, stream)) graphs.clear();
  std::vector<int64_t> key{P};
  const DType kv_dtype = cache.layer_view(0).dtype;
  for (int32_t g = 0; g < cache.num_groups(); ++g) {
    const int32_t max_visible = graph_meta.group(g).max_visible;
    key.push_back(length_bucket(max_visible));
    decode_plan(P, max_visible, kv_dtype);  // made (allocated, zeroed) outside any capture
  }
  graphs.run(key, stream, [&] { enqueue(cache, graph_meta, P, false, 0); });
  return R;  // the logits of the padding rows follow, unread
}

std::vector<float> CausalLmCuda::Impl::forward(KvCache& cache, const ForwardRows& rows,
                                               std::span<const int32_t> tokens, bool all_logits) {
  const int64_t out_rows = run_pass(cache, rows, tokens, all_logits);
  std::vector<float> logits(size_t(out_rows * config.vocab_size));  // [out_rows, V]
  cuda_check(cudaMemcpyAsync(logits.data(), a.logits.data(), logits.size() * 4,
                             cudaMemcpyDeviceToHost, stream),
             "logits");
  cuda_check(cudaStreamSynchronize(stream), "CUDA forward pass");
  return logits;
}

// The whole pass for R rows over `meta`; only enqueues (a decode step of a dense model is
// captured as it is), except the MoE's routing, which synchronises.
void CausalLmCuda::Impl::enqueue(KvCache& cache, const cuda::StepUpload& meta, int64_t R,
                                 bool prefill, int64_t first) {
  const ModelConfig& c = config;
  const int64_t H = c.hidden_size, V = c.vocab_size;
  cuda::embed_rows(weights.embed.as<bf16_t>(), meta.tokens(), float(c.embed_scale), a.x.as<float>(),
                   R, H, stream);
  // The residual add of the previous sublayer is fused with the next norm.
  cuda::AddNormArgs n;
  n.x = a.x.as<float>();
  n.h = a.h.as<bf16_t>();
  n.rows = R;
  n.hidden = H;
  n.mode = c.norm_weight;
  n.eps = float(c.rms_norm_eps);
  n.programmatic = gemm.programmatic();
  for (int32_t layer = 0; layer < int32_t(c.num_layers); ++layer) {
    const cuda::DeviceLayer& l = weights.layers[layer];
    n.w = f32(l.attn_norm);
    cuda::add_rmsnorm(n, stream);
    attention(cache, meta, R, prefill, layer);
    n.y = a.y.data();
    n.y_dtype = DType::kBF16;
    n.y_bias = f32(l.o.bias);
    n.y_norm = f32(l.attn_out_norm);
    n.w = f32(l.mlp_norm);
    cuda::add_rmsnorm(n, stream);
    if (l.moe) {
      moe_mlp(*l.moe, R);
      n.y = a.acc.data();
      n.y_dtype = DType::kF32;
      n.y_bias = nullptr;
    } else {
      dense_mlp(l, R, c.layers[layer].mlp_size);
      n.y = a.y.data();
      n.y_dtype = DType::kBF16;
      n.y_bias = f32(l.down.bias);
    }
    n.y_norm = f32(l.mlp_out_norm);
  }
  n.w = f32(weights.final_norm);
  cuda::add_rmsnorm(n, stream);
  const int64_t out_rows = R - first;
  gemm.linear(a.h.as<bf16_t>() + first * H, weights.lm_head_weight(), a.logits.data(), DType::kF32,
              out_rows, V, H, stream);
  if (c.final_logit_softcap > 0)
    cuda::softcap(a.logits.as<float>(), out_rows * V, float(c.final_logit_softcap), stream);
}

namespace {

void check_head_dim(const ModelConfig& c, const std::string& where) {
  PKV_CHECK(is_gpu_head_dim(c.head_dim), Unsupported, where, "head_dim ", c.head_dim,
            " is not one the GPU kernels take (64, 128, 256)");
}

}  // namespace

CausalLmCuda::CausalLmCuda(ModelConfig config, cuda::DeviceWeights weights) {
  check_head_dim(config, "CUDA model: ");
  impl_ = std::make_unique<Impl>(std::move(config), std::move(weights));
}

CausalLmCuda::~CausalLmCuda() = default;
CausalLmCuda::CausalLmCuda(CausalLmCuda&&) noexcept = default;
CausalLmCuda& CausalLmCuda::operator=(CausalLmCuda&&) noexcept = default;

CausalLmCuda CausalLmCuda::load(const std::string& dir, const std::string& config_name,
                                const cuda::LoadProgress& progress) {
  if (is_gguf_path(dir)) {  // dequantized, then rounded to bf16 on the device
    const GgufFile file = GgufFile::open(dir);
    ModelConfig config = gguf_model_config(file);
    cuda::DeviceWeights w = cuda::load_device_weights(GgufTensors(file, config), config, progress);
    return CausalLmCuda(std::move(config), std::move(w));
  }
  ModelConfig config = load_model_config(dir, config_name);
  check_head_dim(config, dir + ": ");  // before loading any weight
  const TensorStore store = TensorStore::open(dir);
  cuda::DeviceWeights w = cuda::load_device_weights(store, config, progress);
  return CausalLmCuda(std::move(config), std::move(w));
}

CausalLmCuda CausalLmCuda::random(ModelConfig config, uint64_t seed) {
  cuda::DeviceWeights w = cuda::random_device_weights(config, seed);
  return CausalLmCuda(std::move(config), std::move(w));
}

const ModelConfig& CausalLmCuda::config() const { return impl_->config; }
int64_t CausalLmCuda::weight_bytes() const { return impl_->weights.bytes; }
int64_t CausalLmCuda::activation_bytes(int64_t rows) const {
  // A decode step's graph pads to up to 512 rows; the decode plans' workspaces are small.
  return Activations::bytes(std::max<int64_t>(rows, 512), impl_->config);
}

KvCacheConfig CausalLmCuda::kv_cache_config(int32_t num_blocks, int32_t block_size,
                                            DType dtype) const {
  PKV_CHECK(dtype == DType::kBF16 || dtype == DType::kFP8E4M3, Unsupported, "CUDA model: KV dtype ",
            dtype_name(dtype), " (bf16 or fp8_e4m3)");
  return kv_cache_config_for(impl_->config, num_blocks, block_size, dtype);
}

std::unique_ptr<KvStorage> CausalLmCuda::make_storage(const KvGeometry& geometry) {
  return make_device_kv_storage(geometry);
}

namespace {

// Before anything is appended: the kernels read and write the pool on the device.
void check_device_cache(const KvCache& cache) {
  for (int32_t g = 0; g < cache.num_groups(); ++g)
    PKV_CHECK(cache.storage(g).on_device(), InvalidArgument,
              "CUDA model: the KV cache must keep its K/V on the device "
              "(KvCache(config, CausalLmCuda::make_storage))");
}

}  // namespace

std::vector<float> CausalLmCuda::prefill(KvCache& cache, SeqId seq, std::span<const int32_t> tokens,
                                         bool all_logits) {
  check_device_cache(cache);
  return impl_->forward(cache, append_prefill_rows(impl_->config, cache, seq, tokens), tokens,
                        all_logits);
}

std::vector<float> CausalLmCuda::prefill_appended(KvCache& cache, SeqId seq, int64_t start,
                                                  std::span<const int32_t> tokens,
                                                  bool all_logits) {
  check_device_cache(cache);
  return impl_->forward(cache, appended_prefill_rows(impl_->config, cache, seq, start, tokens),
                        tokens, all_logits);
}

std::vector<float> CausalLmCuda::decode(KvCache& cache, std::span<const SeqId> seqs,
                                        std::span<const int32_t> tokens) {
  check_device_cache(cache);
  return impl_->forward(cache, append_decode_rows(impl_->config, cache, seqs, tokens), tokens,
                        true);
}

const float* CausalLmCuda::decode_device_logits(KvCache& cache, std::span<const SeqId> seqs,
                                                std::span<const int32_t> tokens) {
  check_device_cache(cache);
  impl_->run_pass(cache, append_decode_rows(impl_->config, cache, seqs, tokens), tokens, true);
  return impl_->a.logits.as<float>();
}

cudaStream_t CausalLmCuda::stream() const { return impl_->stream; }

void CausalLmCuda::set_cuda_graphs(bool on) {
  impl_->graphs_on = on && impl_->config.num_experts == 0;
  if (!impl_->graphs_on) impl_->graphs.clear();
}
bool CausalLmCuda::cuda_graphs() const { return impl_->graphs_on; }
void CausalLmCuda::set_batch_invariant(bool on) { impl_->set_batch_invariant(on); }
bool CausalLmCuda::batch_invariant() const { return impl_->batch_invariant; }
int64_t CausalLmCuda::graph_replays() const { return impl_->graphs.replays(); }

}  // namespace pagedkv
