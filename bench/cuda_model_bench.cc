// Times the CUDA model end to end on a Llama-3-8B-shaped model (or Qwen3-8B-shaped) whose random
// bf16 weights are made on the device from a seed (no download): prefill of one long prompt and
// decode steps at several batch sizes after a common context. Prints milliseconds, tokens per
// second and the HBM roofline of each decode step (weight bytes + KV bytes read / bandwidth).
//
//   build/bench/pagedkv_cuda_model_bench [--model llama3-8b|qwen3-8b] [--layers N]
//       [--prefill 1024,8192] [--batch 1,64] [--context 1024] [--steps 16] [--kv bf16|fp8_e4m3]
//       [--bandwidth-tbs 4.8] [--checkpoint DIR] [--print-config] [--profile] [--kernel-times]
// --checkpoint loads a Hugging Face checkpoint instead (bench/hf_compare.py saves the weights it
// times HF transformers with, so both systems run the same ones); --print-config prints the
// config.json of --model and exits (hf_compare.py builds its HF model from it: one home for the
// shapes); --profile brackets each batch size's timed steps with cudaProfilerStart/Stop, so
// `nsys profile --capture-range=cudaProfilerApi` sees only decode steps; --kernel-times prints each
// kernel's GPU time per timed decode step and the step's busy time, from CUPTI (kernel_times.h:
// the step-time breakdown, where no profiler is installed).
// Host clock around synchronous steps, after a warm-up: a decode step is the engine's (decode, then
// greedy tokens drawn on the GPU; B ids to the host), replayed from a CUDA graph unless
// PAGEDKV_CUDA_GRAPHS=0.

#include <cuda_profiler_api.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/error.h"
#include "core/random.h"
#include "engine/cuda/sampler_cuda.h"
#include "kernel_times.h"
#include "model/cuda/causal_lm_cuda.h"

namespace pagedkv {
namespace {

struct Options {
  std::string model = "llama3-8b";
  int64_t layers = 0;  // 0: the model's
  std::vector<int64_t> prefill{1024, 8192};
  std::vector<int64_t> batch{1, 64};
  int64_t context = 1024;
  int64_t steps = 16;
  DType kv = DType::kBF16;
  double bandwidth_tbs = 4.8;  // H200 datasheet; H100 SXM: 3.35
  std::string checkpoint;      // empty: random weights made on the device
  bool print_config = false;
  bool profile = false;
  bool kernel_times = false;
};

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) v.push_back(std::stoll(item));
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--print-config") {
      o.print_config = true;
      continue;
    }
    if (k == "--profile") {
      o.profile = true;
      continue;
    }
    if (k == "--kernel-times") {
      o.kernel_times = true;
      continue;
    }
    PKV_CHECK(i + 1 < argc, InvalidArgument, k, " needs a value");
    const std::string v = argv[++i];
    if (k == "--model")
      o.model = v;
    else if (k == "--layers")
      o.layers = std::stoll(v);
    else if (k == "--prefill")
      o.prefill = parse_list(v);
    else if (k == "--batch")
      o.batch = parse_list(v);
    else if (k == "--context")
      o.context = std::stoll(v);
    else if (k == "--steps")
      o.steps = std::stoll(v);
    else if (k == "--kv")
      o.kv = parse_dtype(v);
    else if (k == "--bandwidth-tbs")
      o.bandwidth_tbs = std::stod(v);
    else if (k == "--checkpoint")
      o.checkpoint = v;
    else
      fail(ErrorKind::kInvalidArgument, str_cat("unknown option ", k));
  }
  return o;
}

// The published configs' shapes (Meta-Llama-3-8B, Qwen3-8B).
nlohmann::json config_json(const Options& o) {
  nlohmann::json j;
  if (o.model == "llama3-8b") {
    j = {{"architectures", {"LlamaForCausalLM"}},
         {"model_type", "llama"},
         {"tie_word_embeddings", false},
         {"hidden_size", 4096},
         {"intermediate_size", 14336},
         {"num_hidden_layers", 32},
         {"num_attention_heads", 32},
         {"num_key_value_heads", 8},
         {"vocab_size", 128256},
         {"rms_norm_eps", 1e-5},
         {"rope_theta", 500000.0},
         {"max_position_embeddings", 131072},
         {"rope_scaling",
          {{"rope_type", "llama3"},
           {"factor", 8.0},
           {"low_freq_factor", 1.0},
           {"high_freq_factor", 4.0},
           {"original_max_position_embeddings", 8192}}}};
  } else if (o.model == "qwen3-8b") {
    j = {{"architectures", {"Qwen3ForCausalLM"}},
         {"model_type", "qwen3"},
         {"tie_word_embeddings", false},
         {"hidden_size", 4096},
         {"intermediate_size", 12288},
         {"num_hidden_layers", 36},
         {"num_attention_heads", 32},
         {"num_key_value_heads", 8},
         {"head_dim", 128},
         {"vocab_size", 151936},
         {"rms_norm_eps", 1e-6},
         {"rope_theta", 1000000.0},
         {"max_position_embeddings", 40960}};
  } else {
    fail(ErrorKind::kInvalidArgument, str_cat("--model ", o.model, ": llama3-8b or qwen3-8b"));
  }
  if (o.layers > 0) j["num_hidden_layers"] = o.layers;
  return j;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> random_tokens(Rng& rng, int64_t n, int64_t vocab) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& x : t) x = int32_t(rng.uniform_int(0, vocab - 1));
  return t;
}

int run(const Options& o) {
  if (o.print_config) {
    std::printf("%s\n", config_json(o).dump(2).c_str());
    return 0;
  }
  PKV_CHECK(cuda_device_available(), Unsupported, "no CUDA device");
  // Before any CUDA work: graphs captured later are traced node by node.
  const auto kernel_times = o.kernel_times ? std::make_unique<KernelTimes>() : nullptr;
  const auto t_load = std::chrono::steady_clock::now();
  CausalLmCuda m = o.checkpoint.empty()
                       ? CausalLmCuda::random(parse_model_config(config_json(o)), 1)
                       : CausalLmCuda::load(o.checkpoint);
  const ModelConfig& config = m.config();
  const double weight_gb = double(m.weight_bytes()) / 1e9;
  std::printf("model %s: %lld layers, %.2f GB of bf16 weights %s in %.2f s; KV %s\n",
              o.checkpoint.empty() ? o.model.c_str() : o.checkpoint.c_str(),
              (long long)config.num_layers, weight_gb,
              o.checkpoint.empty() ? "made on the device" : "loaded", seconds_since(t_load),
              dtype_name(o.kv));
  Rng rng(7);
  const int64_t V = config.vocab_size;
  constexpr int32_t kBlock = 16;
  // Pools sized for each measurement (K/V of an 8B model: 2 MB per block of 16 tokens).
  auto blocks_for = [](int64_t seqs, int64_t tokens) {
    return int32_t(seqs * (tokens / kBlock + 2));
  };
  {  // warm-up: plans, cuBLASLt heuristics, lazy module loads
    KvCache cache(m.kv_cache_config(blocks_for(1, 128), kBlock, o.kv), CausalLmCuda::make_storage);
    cache.add_sequence(0);
    m.prefill(cache, 0, random_tokens(rng, 128, V), false);
  }
  for (int64_t p : o.prefill) {
    KvCache cache(m.kv_cache_config(blocks_for(1, p), kBlock, o.kv), CausalLmCuda::make_storage);
    cache.add_sequence(0);
    const std::vector<int32_t> prompt = random_tokens(rng, p, V);
    const auto t0 = std::chrono::steady_clock::now();
    m.prefill(cache, 0, prompt, false);
    const double s = seconds_since(t0);
    std::printf("prefill %6lld tokens: %8.2f ms  %9.0f tok/s\n", (long long)p, 1e3 * s,
                double(p) / s);
  }
  const double kv_bytes_per_token = 2.0 * double(config.num_layers) * double(config.num_kv_heads) *
                                    double(config.head_dim) * double(dtype_size(o.kv));
  for (int64_t B : o.batch) {
    KvCache cache(m.kv_cache_config(blocks_for(B, o.context + o.steps + 8), kBlock, o.kv),
                  CausalLmCuda::make_storage);
    std::vector<SeqId> seqs;
    for (int64_t b = 0; b < B; ++b) {
      seqs.push_back(b);
      cache.add_sequence(b);
      m.prefill(cache, b, random_tokens(rng, o.context, V), false);
    }
    std::vector<int32_t> toks = random_tokens(rng, B, V);
    // A step as the engine runs it: decode, then greedy tokens drawn on the GPU (B ids come back,
    // not B x V logits). Two warm-up steps: the plan, then the CUDA graph's capture.
    cuda::SamplerCuda sampler;
    const std::vector<CounterDraw> draws(static_cast<size_t>(B));
    const auto step_once = [&] {
      toks = sampler.sample(m.decode_device_logits(cache, seqs, toks), V, draws, m.stream());
    };
    step_once();
    step_once();
    if (o.profile) cuda_check(cudaProfilerStart(), "cudaProfilerStart");
    if (kernel_times) kernel_times->begin();
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < o.steps; ++s) step_once();
    const double step = seconds_since(t0) / double(o.steps);
    if (o.profile) cuda_check(cudaProfilerStop(), "cudaProfilerStop");
    if (kernel_times) {
      double busy_ns = 0;
      const auto sums = kernel_times->end(&busy_ns);
      const double n = double(o.steps);
      std::printf("kernels B=%lld: busy %.4f ms/step over %lld steps\n", (long long)B,
                  busy_ns / 1e6 / n, (long long)o.steps);
      for (const auto& [name, sum] : sums)
        std::printf("kernel B=%lld %.3f us/step %.2f/step %s\n", (long long)B, sum.ns / 1e3 / n,
                    double(sum.count) / n, name.c_str());
    }
    const double bytes =
        double(m.weight_bytes()) + double(B) * double(o.context) * kv_bytes_per_token;
    const double roofline = bytes / (o.bandwidth_tbs * 1e12);
    std::printf(
        "decode B=%4lld ctx %lld: %8.3f ms/step  %9.0f tok/s  roofline %.3f ms (%.0f%%)  graphs "
        "%s\n",
        (long long)B, (long long)o.context, 1e3 * step, double(B) / step, 1e3 * roofline,
        100.0 * roofline / step, m.cuda_graphs() ? "on" : "off");
  }
  return 0;
}

}  // namespace
}  // namespace pagedkv

int main(int argc, char** argv) {
  try {
    return pagedkv::run(pagedkv::parse(argc, argv));
  } catch (const pagedkv::Error& e) {
    std::fprintf(stderr, "pagedkv_cuda_model_bench: %s\n", e.what());
    return 1;
  }
}
