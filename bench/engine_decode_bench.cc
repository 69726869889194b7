// End-to-end decode throughput of the engine (scheduler + model + sampling, one Engine::step per
// iteration, every running sequence decoding one token): batch 1, 8 and 32, for the Llama 3 tiny
// checkpoint (testdata/llama3, head_dim 32: only the paged prefill kernel takes it), the demo's
// 0.9M-parameter synthetic model (head_dim 64) and a ~100M-parameter random one, with decode
// attention through the fused paged kernel, the gather-then-dense path, or the paged prefill
// kernel run one query at a time — alternating step by step on the same engine, so the kernels
// see the same machine load (the figures in docs/benchmarks/engine.md come from a shared 2-core
// VM). The sequences share a prompt (one prefill, shared blocks via the prefix cache), so setting
// up a batch of 32 long contexts costs one prompt's prefill.
//
//   build/bench/pagedkv_engine_decode_bench --benchmark_counters_tabular=true

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "attention/decode_validate.h"
#include "core/error.h"
#include "core/random.h"
#include "engine/engine.h"
#include "model/synthetic_model.h"

namespace pagedkv {
namespace {

CausalLm& tiny_llama3() {
  static CausalLm m = CausalLm::load(str_cat(PAGEDKV_TESTDATA_DIR, "/llama3"));
  return m;
}

CausalLm& demo_model() {
  static CausalLm m = make_synthetic_model(SyntheticModelSpec::small());
  return m;
}

CausalLm& random_100m() {
  static CausalLm m = make_synthetic_model(SyntheticModelSpec::medium_100m());
  return m;
}

struct Kernel {
  const char* name;
  DecodeKernel kernel;
};
constexpr Kernel kKernels[] = {{"fused", DecodeKernel::kFusedPaged},
                               {"gather", DecodeKernel::kGather},
                               {"prefill1q", DecodeKernel::kPagedPrefill}};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// One engine, B sequences decoding; every iteration runs one decode step with each kernel in turn
// (the same sequences, the same load on the machine), so the kernels are compared step by step.
// Counters: decode tokens/s per kernel from the median step time, and fused / gather.
void decode_bench(benchmark::State& state, CausalLm& (*get_model)(), int64_t context) {
  CausalLm& model = get_model();
  const int64_t B = state.range(0);
  const int64_t steps = state.max_iterations;
  std::vector<Kernel> kernels;
  for (const Kernel& k : kKernels)
    if (k.kernel == DecodeKernel::kPagedPrefill ||
        is_supported_decode_head_dim(int32_t(model.config().head_dim)))
      kernels.push_back(k);
  const int32_t bs = 16;
  const int64_t generated = int64_t(kernels.size()) * steps + 16;
  EngineConfig c;
  c.block_size = bs;
  c.max_model_len = context + generated + 32;
  c.num_blocks = int32_t(B * ((generated + 32) / bs + 2) + (context + bs - 1) / bs + 16);
  c.scheduler.max_num_seqs = int32_t(B);
  c.scheduler.max_num_batched_tokens = 512;
  Engine engine(model, c);
  Rng rng(42);
  std::vector<int32_t> prompt(size_t(context - 1));
  for (int32_t& t : prompt) t = int32_t(rng.uniform_int(0, model.config().vocab_size - 1));
  for (int64_t i = 0; i < B; ++i) {
    std::vector<int32_t> p = prompt;
    p.push_back(int32_t(i % model.config().vocab_size));  // one token of its own
    SamplingParams sp;
    sp.max_tokens = int32_t(generated);
    engine.add_request(std::move(p), sp);
  }
  // Prefill everything, then a warm-up decode step per kernel.
  int64_t prefill = -1;
  while (engine.metrics().waiting > 0 || engine.metrics().prefill_tokens != prefill) {
    prefill = engine.metrics().prefill_tokens;
    engine.step();
  }
  for (const Kernel& k : kernels) {
    model.set_decode_kernel(k.kernel);
    engine.step();
  }
  PKV_CHECK(engine.metrics().running == B, Internal, "bench: ", engine.metrics().running,
            " sequences running, expected ", B);
  std::vector<std::vector<double>> seconds(kernels.size());
  for (auto _ : state) {
    for (size_t k = 0; k < kernels.size(); ++k) {
      model.set_decode_kernel(kernels[k].kernel);
      const int64_t before = engine.metrics().decode_tokens;
      const auto t0 = std::chrono::steady_clock::now();
      engine.step();
      seconds[k].push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      PKV_CHECK(engine.metrics().decode_tokens - before == B, Internal, "bench: a step decoded ",
                engine.metrics().decode_tokens - before, " tokens, expected ", B);
    }
  }
  model.set_decode_kernel(DecodeKernel::kAuto);
  std::vector<double> tok_s(kernels.size());
  for (size_t k = 0; k < kernels.size(); ++k) {
    tok_s[k] = double(B) / median(seconds[k]);
    state.counters[str_cat(kernels[k].name, "_tok/s")] = tok_s[k];
  }
  if (kernels.size() == 3) state.counters["fused/gather"] = tok_s[0] / tok_s[1];
  state.counters["batch"] = double(B);
  state.counters["context"] = double(context);
}

void register_all() {
  struct Model {
    const char* name;
    CausalLm& (*get)();
    int64_t context;
    int64_t steps;
  };
  const Model models[] = {{"llama3_tiny", tiny_llama3, 384, 48},
                          {"demo_0.9m", demo_model, 1024, 48},
                          {"random_100m", random_100m, 512, 15}};
  for (const Model& m : models)
    benchmark::RegisterBenchmark(str_cat("EngineDecode/", m.name).c_str(),
                                 [m](benchmark::State& s) { decode_bench(s, m.get, m.context); })
        ->Arg(1)
        ->Arg(8)
        ->Arg(32)
        ->Iterations(m.steps)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace pagedkv

int main(int argc, char** argv) {
  pagedkv::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
