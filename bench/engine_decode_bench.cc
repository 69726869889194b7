// End-to-end decode throughput of the engine (scheduler + model + sampling, one Engine::step per
// iteration, every running sequence decoding one token): batch 1, 8 and 32, for the Llama 3 tiny
// checkpoint (testdata/llama3, head_dim 32: only the paged prefill kernel takes it), the demo's
// 0.9M-parameter synthetic model (head_dim 64) and a ~100M-parameter random one, with decode
// attention through the fused paged kernel, the gather-then-dense path, or the paged prefill
// kernel run one query at a time. The sequences share a prompt (one prefill, shared blocks via
// the prefix cache), so setting up a batch of 32 long contexts costs one prompt's prefill.
//
//   build/bench/pagedkv_engine_decode_bench --benchmark_counters_tabular=true

#include <benchmark/benchmark.h>

#include <memory>
#include <string>

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

void decode_bench(benchmark::State& state, CausalLm& (*get_model)(), DecodeKernel kernel,
                  int64_t context) {
  CausalLm& model = get_model();
  const int64_t B = state.range(0);
  const int64_t steps = state.max_iterations;
  if (kernel != DecodeKernel::kPagedPrefill &&
      !is_supported_decode_head_dim(int32_t(model.config().head_dim))) {
    state.SkipWithError(str_cat("head_dim ", model.config().head_dim,
                                " is not supported by the fused / gather decode kernels").c_str());
    return;
  }
  model.set_decode_kernel(kernel);
  const int32_t bs = 16;
  EngineConfig c;
  c.block_size = bs;
  c.max_model_len = context + steps + 32;
  c.num_blocks = int32_t(B * ((steps + 32) / bs + 2) + (context + bs - 1) / bs + 16);
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
    sp.max_tokens = int32_t(steps + 16);
    engine.add_request(std::move(p), sp);
  }
  // Prefill everything, then two warm-up decode steps.
  int64_t prefill = -1;
  while (engine.metrics().waiting > 0 || engine.metrics().prefill_tokens != prefill) {
    prefill = engine.metrics().prefill_tokens;
    engine.step();
  }
  engine.step();
  engine.step();
  PKV_CHECK(engine.metrics().running == B, Internal, "bench: ", engine.metrics().running,
            " sequences running, expected ", B);
  const int64_t decoded0 = engine.metrics().decode_tokens;
  for (auto _ : state) engine.step();
  const int64_t decoded = engine.metrics().decode_tokens - decoded0;
  PKV_CHECK(decoded == B * int64_t(state.iterations()), Internal, "bench: decoded ", decoded,
            " tokens, expected ", B * int64_t(state.iterations()));
  state.counters["tok/s"] = benchmark::Counter(double(decoded), benchmark::Counter::kIsRate);
  state.counters["batch"] = double(B);
  state.counters["context"] = double(context);
}

void register_all() {
  struct Kernel {
    const char* name;
    DecodeKernel kernel;
  };
  const Kernel kernels[] = {{"fused_paged", DecodeKernel::kFusedPaged},
                            {"gather", DecodeKernel::kGather},
                            {"paged_prefill_1q", DecodeKernel::kPagedPrefill}};
  struct Model {
    const char* name;
    CausalLm& (*get)();
    int64_t context;
    int64_t steps;
  };
  const Model models[] = {{"llama3_tiny", tiny_llama3, 384, 64},
                          {"demo_0.9m", demo_model, 1024, 64},
                          {"random_100m", random_100m, 512, 12}};
  for (const Model& m : models)
    for (const Kernel& k : kernels)
      benchmark::RegisterBenchmark(str_cat("EngineDecode/", m.name, "/", k.name).c_str(),
                                   [m, k](benchmark::State& s) { decode_bench(s, m.get, k.kernel, m.context); })
          ->Arg(1)->Arg(8)->Arg(32)
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
