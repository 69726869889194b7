// Placement invariance of the CUDA decode kernels, bit for bit: blocks scattered, contiguous or a
// prefix block shared give identical outputs; repeated runs and CUDA-graph replays too (the merge
// counters reset themselves). Without a GPU, every test skips visibly.

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#include "attention/cuda/paged_decode_cuda.h"
#include "attention/cuda/testing/device_run.h"
#include "attention/decode_reference.h"
#include "core/cuda/cuda_check.h"
#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

using testing::bf16_spec;
using testing::DecodeProblem;
using testing::DecodeProblemSpec;
using testing::DeviceRun;
using testing::Fp8Scales;

// Same logical problem, blocks scattered / contiguous / prefix shared: identical bits.
TEST(PagedDecodeCuda, PlacementInvarianceBitForBit) {
  REQUIRE_GPU();
  for (const char* heads : {"0", "1", "2"})
    for (DType kv : {DType::kBF16, DType::kFP8E4M3})
      for (int splits : {1, 6}) {
        setenv("PAGEDKV_DECODE_HEADS", heads, 1);
        Rng rng(seed_from_env(5000 + splits));
        SCOPED_TRACE(str_cat("seed=", rng.seed(), " kv=", dtype_name(kv), " splits=", splits));
        DecodeProblemSpec spec;
        spec.visible_len = {700, 513, 1, 97};
        spec.first_offset = {3, 3, 0, 15};
        spec.num_q_heads = 16;
        spec.num_kv_heads = 4;
        spec.kv_dtype = kv;
        spec.q_dtype = DType::kBF16;
        spec.sinks = true;
        spec.spare_blocks = 20;
        DecodeProblem shuffled(spec, rng);
        // Sequence 1 starts with a copy of sequence 0's first block (same content).
        const int32_t b0 = shuffled.indices()[shuffled.indptr()[0]];
        const int32_t b1 = shuffled.indices()[shuffled.indptr()[1]];
        shuffled.copy_block(b0, b1);
        // Contiguous: relocate so the listed blocks lie in table order.
        std::vector<int32_t> new_id(shuffled.num_blocks(), -1);
        std::vector<bool> used(shuffled.num_blocks(), false);
        int32_t next = 0;
        for (int32_t id : shuffled.indices()) {
          new_id[id] = next++;
          used[id] = true;
        }
        for (int32_t i = 0; i < shuffled.num_blocks(); ++i)
          if (!used[i]) new_id[i] = next++;
        DecodeProblem contiguous = shuffled.relocated(new_id);
        // Shared prefix: sequence 1 reads sequence 0's physical block instead of its copy.
        std::vector<int32_t> perm(shuffled.num_blocks());
        std::iota(perm.begin(), perm.end(), 0);
        DecodeProblem shared = shuffled.relocated(perm);
        shared.indices()[shared.indptr()[1]] = b0;

        const Fp8Scales sc;
        DeviceRun r1(shuffled, sc), r2(contiguous, sc), r3(shared, sc);
        r1.run(splits);
        r2.run(splits);
        r3.run(splits);
        EXPECT_EQ(r1.out(), r2.out());
        EXPECT_EQ(r1.out(), r3.out());
        EXPECT_EQ(0, std::memcmp(r1.lse().data(), r2.lse().data(), r1.lse().size() * 4));
        const DecodeReferenceResult ref = decode_reference_f64(r1.host_params());
        EXPECT_LE(testing::relative_error(r1.out().data(), DType::kBF16, ref.out), 1e-2);
        unsetenv("PAGEDKV_DECODE_HEADS");
      }
}

// The merge counters reset themselves: repeated runs and CUDA-graph replays give the same bits.
TEST(PagedDecodeCuda, RepeatedRunsAndGraphReplayAreIdentical) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(6000));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  DecodeProblemSpec spec = bf16_spec(testing::random_lengths(rng, 5, 2000));
  spec.num_q_heads = 8;
  spec.num_kv_heads = 2;
  DecodeProblem prob(spec, rng);
  DeviceRun run(prob, Fp8Scales{});
  run.run(7);
  const std::vector<uint8_t> first = run.out();
  cudaStream_t st;
  cuda_check(cudaStreamCreate(&st), "stream");
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cuda_check(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal), "begin capture");
  paged_decode_cuda(run.plan(), run.device_params(), run.workspace(), st);
  cuda_check(cudaStreamEndCapture(st, &graph), "end capture");
  cuda_check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  for (int i = 0; i < 3; ++i) {
    cuda_check(cudaMemsetAsync(run.device_params().out, 0xff, prob.out().bytes(), st), "poison");
    cuda_check(cudaGraphLaunch(exec, st), "graph launch");
    cuda_check(cudaStreamSynchronize(st), "sync");
    run.fetch();
    EXPECT_EQ(first, run.out()) << "replay " << i;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(st);
}

}  // namespace
}  // namespace pagedkv
