// Bit-exactness of the CUDA paged prefill kernel: a chunked prefill (one launch with the chunks
// as sequences, or one launch per chunk) gives the same bits as the whole prefill; blocks
// shuffled, contiguous or a prefix block shared give the same bits; repeated runs and CUDA-graph
// replays too. Without a GPU, every test skips visibly.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "attention/cuda/paged_prefill_cuda.h"
#include "attention/cuda/testing/device_run.h"  // REQUIRE_GPU
#include "attention/cuda/testing/prefill_device_run.h"
#include "attention/testing/prefill_problem.h"
#include "core/cuda/cuda_check.h"
#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

using testing::check_prefill;
using testing::first_difference;
using testing::PrefillDeviceRun;
using testing::PrefillProblem;
using testing::PrefillProblemSpec;
using testing::set_fp8_scales;

// The whole prefill of 333 rows vs the same rows cut into chunks [0, 100), [100, 229),
// [229, 333): each chunk a sequence at its position whose block list starts at the block of its
// first visible key (earlier chunks' keys are read in place), run as one launch and as one launch
// per chunk. Rules full / sliding / chunked x dtypes bf16 / f16 / fp8; G = 1, 4, 8.
TEST(PagedPrefillCuda, ChunkedPrefillEqualsWholePrefillBitForBit) {
  REQUIRE_GPU();
  const AttentionRule rules[] = {AttentionRule::full(), AttentionRule::sliding(37),
                                 AttentionRule::chunked(64)};
  const DType kv_types[] = {DType::kBF16, DType::kF16, DType::kFP8E4M3};
  const int heads[][2] = {{8, 8}, {8, 2}, {16, 2}};
  const int dims[] = {64, 128, 256};
  const int blocks[] = {16, 1, 64};
  const int32_t cuts[] = {0, 100, 229, 333};
  int i = 0;
  for (const AttentionRule& rule : rules)
    for (DType kv : kv_types) {
      const uint64_t seed = seed_from_env(20000 + i);
      Rng rng(seed);
      PrefillProblemSpec spec;
      spec.head_dim = dims[i % 3];
      spec.num_q_heads = heads[(i / 3) % 3][0];
      spec.num_kv_heads = heads[(i / 3) % 3][1];
      spec.block_size = blocks[(i + 1) % 3];
      spec.q_dtype = kv == DType::kF16 ? DType::kF16 : DType::kBF16;
      spec.kv_dtype = kv;
      spec.rule = rule;
      spec.softcap = i % 2 ? 20.f : 0.f;
      spec.seqs = {{cuts[3], 0, 0}};
      set_fp8_scales(spec, rng, i % 2 == 0);
      PrefillProblem whole(spec, rng);
      const std::string label = str_cat("chunked#", i);
      SCOPED_TRACE(str_cat(label, " seed=", seed, " ", describe(spec)));
      check_prefill(whole, seed, label + " whole");

      PrefillProblem chunked = whole.clone();
      const int32_t bs = spec.block_size;
      chunked.q_indptr().assign(cuts, cuts + 4);
      chunked.q_pos().clear();
      chunked.kv_base().clear();
      chunked.kv_indptr().assign(1, 0);
      chunked.kv_indices().clear();
      for (int c = 0; c < 3; ++c) {
        const int32_t base = int32_t(whole.visible_begin(cuts[c]) / bs * bs);
        chunked.q_pos().push_back(cuts[c]);
        chunked.kv_base().push_back(base);
        for (int32_t b = base / bs; b <= (cuts[c + 1] - 1) / bs; ++b)
          chunked.kv_indices().push_back(whole.kv_indices()[b]);
        chunked.kv_indptr().push_back(int32_t(chunked.kv_indices().size()));
      }
      PrefillDeviceRun w(whole), one(chunked), each(chunked);
      w.run();
      one.run();
      each.poison_out();
      for (int c = 0; c < 3; ++c) each.launch(c, 1);
      each.fetch();
      const size_t es = dtype_size(spec.q_dtype);
      EXPECT_EQ(w.out(), one.out())
          << "chunks in one launch: "
          << first_difference(w.out(), one.out(), es, spec.num_q_heads, spec.head_dim);
      EXPECT_EQ(w.out(), each.out())
          << "one launch per chunk: "
          << first_difference(w.out(), each.out(), es, spec.num_q_heads, spec.head_dim);
      ++i;
    }
}

// The same logical problem with its blocks shuffled across the pool, laid out contiguously, or
// with sequence 1's first (prefix) block shared with sequence 0's: identical bits.
TEST(PagedPrefillCuda, PlacementInvarianceBitForBit) {
  REQUIRE_GPU();
  const DType kv_types[] = {DType::kBF16, DType::kF16, DType::kFP8E4M3};
  const int dims[] = {128, 64, 256};
  int i = 0;
  for (DType kv : kv_types)
    for (int bs : {1, 16, 256}) {
      const uint64_t seed = seed_from_env(21000 + i);
      Rng rng(seed);
      PrefillProblemSpec spec;
      spec.head_dim = dims[i % 3];
      spec.num_q_heads = 16;
      spec.num_kv_heads = 4;
      spec.block_size = bs;
      spec.q_dtype = kv == DType::kF16 ? DType::kF16 : DType::kBF16;
      spec.kv_dtype = kv;
      spec.rule = i % 3 == 1 ? AttentionRule::sliding(90) : AttentionRule::full();
      spec.spare_blocks = 20;
      // Sequences 0 and 1 start after one whole block (their prefix), the third deep in.
      const int32_t prefix = std::max(bs, 64);
      spec.seqs = {{150, prefix, 0}, {77, prefix, 0}, {1, 300}};
      set_fp8_scales(spec, rng, false);
      PrefillProblem shuffled(spec, rng);
      const std::string label = str_cat("placement#", i);
      SCOPED_TRACE(str_cat(label, " seed=", seed, " ", describe(spec)));
      // Sequence 1's first block gets sequence 0's first block's contents (the same prefix).
      const int32_t b0 = shuffled.kv_indices()[shuffled.kv_indptr()[0]];
      const int32_t b1 = shuffled.kv_indices()[shuffled.kv_indptr()[1]];
      shuffled.pool().copy_block(b0, b1);
      PrefillProblem contiguous = shuffled.relocated(shuffled.contiguous_order());
      PrefillProblem shared = shuffled.clone();
      shared.kv_indices()[shared.kv_indptr()[1]] = b0;  // both read one physical block
      check_prefill(shuffled, seed, label);
      PrefillDeviceRun r1(shuffled), r2(contiguous), r3(shared);
      r1.run();
      r2.run();
      r3.run();
      const size_t es = dtype_size(spec.q_dtype);
      EXPECT_EQ(r1.out(), r2.out())
          << "contiguous: "
          << first_difference(r1.out(), r2.out(), es, spec.num_q_heads, spec.head_dim);
      EXPECT_EQ(r1.out(), r3.out())
          << "shared prefix block: "
          << first_difference(r1.out(), r3.out(), es, spec.num_q_heads, spec.head_dim);
      ++i;
    }
}

// The run step is capturable: repeated runs and CUDA-graph replays give the same bits.
TEST(PagedPrefillCuda, RepeatedRunsAndGraphReplayAreIdentical) {
  REQUIRE_GPU();
  const uint64_t seed = seed_from_env(22000);
  Rng rng(seed);
  PrefillProblemSpec spec;
  spec.num_q_heads = 8;
  spec.num_kv_heads = 2;
  spec.seqs = {{200, 0}, {64, 100}, {1, 40}};
  PrefillProblem prob(spec, rng);
  SCOPED_TRACE(str_cat("seed=", seed, " ", describe(spec)));
  PrefillDeviceRun run(prob);
  run.run();
  const std::vector<uint8_t> first = run.out();
  run.run();
  EXPECT_EQ(first, run.out()) << "second run";
  const PagedPrefillCudaPlan plan = plan_paged_prefill_cuda(run.shape());
  const PagedPrefillCudaParams params = run.params();
  cudaStream_t st;
  cuda_check(cudaStreamCreate(&st), "stream");
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cuda_check(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal), "begin capture");
  paged_prefill_cuda(plan, params, st);
  cuda_check(cudaStreamEndCapture(st, &graph), "end capture");
  cuda_check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  for (int r = 0; r < 3; ++r) {
    run.poison_out();
    cuda_check(cudaGraphLaunch(exec, st), "graph launch");
    cuda_check(cudaStreamSynchronize(st), "sync");
    run.fetch();
    EXPECT_EQ(first, run.out()) << "replay " << r;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(st);
}

}  // namespace
}  // namespace pagedkv
