// Timing of the CUDA paged prefill kernel on a few model-like shapes (CUDA events, mean of 20
// launches after a warm-up), disabled by default: run with
//   attention_cuda_prefill_test --gtest_also_run_disabled_tests --gtest_filter='*Bench*'
// Prints time and attention TFLOP/s (4 * D * Hq * visible keys per row: the two matmuls).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "attention/cuda/paged_prefill_cuda.h"
#include "attention/cuda/testing/device_run.h"  // REQUIRE_GPU
#include "attention/cuda/testing/prefill_device_run.h"
#include "attention/testing/prefill_problem.h"
#include "core/cuda/cuda_check.h"
#include "core/random.h"

namespace pagedkv {
namespace {

using testing::PrefillDeviceRun;
using testing::PrefillProblem;
using testing::PrefillProblemSpec;

TEST(PagedPrefillCudaBench, DISABLED_Timing) {
  REQUIRE_GPU();
  struct Shape {
    const char* name;
    int Hq, Hkv, D;
    DType q, kv;
    AttentionRule rule;
    int seqs, rows;
  };
  const Shape shapes[] = {
      {"llama3-8b 1x4096", 32, 8, 128, DType::kBF16, DType::kBF16, AttentionRule::full(), 1, 4096},
      {"llama3-8b 8x512", 32, 8, 128, DType::kBF16, DType::kBF16, AttentionRule::full(), 8, 512},
      {"llama3-8b fp8 1x4096", 32, 8, 128, DType::kBF16, DType::kFP8E4M3, AttentionRule::full(), 1,
       4096},
      {"D64 MHA 1x4096", 16, 16, 64, DType::kF16, DType::kF16, AttentionRule::full(), 1, 4096},
      {"gemma3-12b D256 full 1x4096", 16, 8, 256, DType::kBF16, DType::kBF16, AttentionRule::full(),
       1, 4096},
      {"gemma3-12b D256 sliding 1024 1x4096", 16, 8, 256, DType::kBF16, DType::kBF16,
       AttentionRule::sliding(1024), 1, 4096},
      {"llama4 chunked 8192 G5 1x4096", 40, 8, 128, DType::kBF16, DType::kBF16,
       AttentionRule::chunked(8192), 1, 4096},
  };
  for (const Shape& sh : shapes) {
    Rng rng(seed_from_env(24000));
    PrefillProblemSpec spec;
    spec.num_q_heads = sh.Hq;
    spec.num_kv_heads = sh.Hkv;
    spec.head_dim = sh.D;
    spec.q_dtype = sh.q;
    spec.kv_dtype = sh.kv;
    spec.rule = sh.rule;
    spec.block_size = 16;
    for (int s = 0; s < sh.seqs; ++s) spec.seqs.push_back({sh.rows, 0});
    PrefillProblem prob(spec, rng);
    double keys = 0;  // visible keys summed over rows
    for (int s = 0; s < sh.seqs; ++s)
      for (int t = 0; t < sh.rows; ++t) keys += double(t - prob.visible_begin(t) + 1);
    PrefillDeviceRun run(prob);
    const PagedPrefillCudaPlan plan = plan_paged_prefill_cuda(run.shape());
    const PagedPrefillCudaParams params = run.params();
    paged_prefill_cuda(plan, params, nullptr);
    cuda_check(cudaDeviceSynchronize(), "warm-up");
    cudaEvent_t e0, e1;
    cuda_check(cudaEventCreate(&e0), "event");
    cuda_check(cudaEventCreate(&e1), "event");
    constexpr int kIters = 20;
    cuda_check(cudaEventRecord(e0), "record");
    for (int it = 0; it < kIters; ++it) paged_prefill_cuda(plan, params, nullptr);
    cuda_check(cudaEventRecord(e1), "record");
    cuda_check(cudaEventSynchronize(e1), "sync");
    float ms = 0.f;
    cuda_check(cudaEventElapsedTime(&ms, e0, e1), "elapsed");
    ms /= kIters;
    const double flops = 4.0 * sh.D * sh.Hq * keys;
    std::printf("[prefill bench] %-40s grid=(%u,%u,%u) smem=%zu: %8.3f ms  %6.1f TFLOP/s\n",
                sh.name, plan.grid.x, plan.grid.y, plan.grid.z, plan.smem_bytes, ms,
                flops / (ms * 1e-3) / 1e12);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
  }
}

}  // namespace
}  // namespace pagedkv
