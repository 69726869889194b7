// Clear errors from the CUDA decode planner and run step: unsupported shapes (no GPU needed),
// bad block sizes and strides refused before anything is launched.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "attention/cuda/paged_decode_cuda.h"
#include "attention/cuda/testing/device_run.h"
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

TEST(PagedDecodeCudaErrors, UnsupportedShapesAreClearErrors) {
  PagedDecodeCudaShape s;
  s.batch_size = 2;
  s.num_q_heads = 8;
  s.num_kv_heads = 2;
  s.head_dim = 96;
  try {
    plan_paged_decode_cuda(s);
    FAIL() << "head_dim 96 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("head_dim 96"), std::string::npos) << e.what();
  }
  s.head_dim = 128;
  s.kv_dtype = DType::kF32;
  EXPECT_THROW(plan_paged_decode_cuda(s), Error);
  s.kv_dtype = DType::kBF16;
  s.num_q_heads = 7;
  EXPECT_THROW(plan_paged_decode_cuda(s), Error);
}

TEST(PagedDecodeCudaErrors, BadBlockSizeIsRejectedBeforeLaunch) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(7000));
  DecodeProblemSpec spec = bf16_spec({40});
  spec.block_size = 12;
  DecodeProblem prob(spec, rng);
  DeviceRun run(prob, Fp8Scales{});
  try {
    run.run(1);
    FAIL() << "block_size 12 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("block_size 12"), std::string::npos) << e.what();
  }
}

TEST(PagedDecodeCudaErrors, BlockOrTokenOver4GiBIsRejectedBeforeLaunch) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(7100));
  DecodeProblem prob(bf16_spec({40, 17}), rng);
  DeviceRun run(prob, Fp8Scales{});
  run.run(1);
  const std::vector<uint8_t> before = run.out();
  // Strides the tensor-core kernels cannot address with 32-bit factors: refused by name, before
  // anything is launched (the output keeps the first run's values).
  for (const bool token : {false, true}) {
    DecodeParams p = run.device_params();
    (token ? p.kv.stride_token : p.kv.stride_block) = int64_t(1) << 31;  // 4 GiB of bf16
    try {
      paged_decode_cuda(run.plan(), p, run.workspace(), nullptr);
      FAIL() << (token ? "token" : "block") << " stride of 4 GiB accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("< 4 GiB"), std::string::npos) << e.what();
    }
  }
  cuda_check(cudaDeviceSynchronize(), "sync");
  run.fetch();
  EXPECT_EQ(run.out(), before);
}

}  // namespace
}  // namespace pagedkv
