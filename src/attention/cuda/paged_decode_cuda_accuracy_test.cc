// The CUDA decode kernels against the f64 reference (DESIGN.md §3 bounds): every KV dtype, head
// dim, group shape, block size and split count; odd groups, softcap, sinks, f32 and mixed q; long
// sequences; the head-parallel layout; invisible slots holding NaN. The PagedDecodeCudaSmall cases
// are the ones gpu_check.sh runs again under compute-sanitizer memcheck. Without a GPU, every test
// skips visibly.

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "attention/cuda/paged_decode_cuda.h"
#include "attention/cuda/testing/device_run.h"
#include "attention/decode_reference.h"
#include "core/aligned_buffer.h"
#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

using testing::Case;
using testing::check_case;
using testing::DecodeProblem;
using testing::DecodeProblemSpec;
using testing::DeviceRun;
using testing::Fp8Scales;

TEST(PagedDecodeCuda, SweepDtypesHeadDimsGroupsBlockSizes) {
  REQUIRE_GPU();
  const DType kvs[] = {DType::kBF16, DType::kF16, DType::kFP8E4M3};
  const int dims[] = {64, 128, 256};
  const int heads[][2] = {{4, 4}, {8, 2}, {16, 2}};  // MHA, G=4, G=8
  const int blocks[] = {1, 16, 256};
  const int splits[] = {0, 3, 8};
  uint64_t seed = 1000;
  for (DType kv : kvs)
    for (int D : dims)
      for (const auto& hh : heads)
        for (int bs : blocks) {
          Case c;
          c.kv = kv;
          c.q = kv == DType::kF16 ? DType::kF16 : DType::kBF16;
          c.D = D;
          c.Hq = hh[0];
          c.Hkv = hh[1];
          c.bs = bs;
          c.splits = splits[seed % 3];
          c.per_head = kv == DType::kFP8E4M3 && seed % 2 == 0;
          c.max_len = 64 + int(seed % 5) * 97;
          check_case(c, seed++);
        }
}

TEST(PagedDecodeCuda, OddGroupsSoftcapSinksF32Query) {
  REQUIRE_GPU();
  uint64_t seed = 2000;
  const int heads[][2] = {{12, 2}, {32, 2}, {6, 3}, {5, 5}};  // G = 6, 16 (two CTAs), 2, 1
  for (const auto& hh : heads)
    for (DType q : {DType::kF32, DType::kBF16})
      for (int splits : {1, 5}) {
        Case c;
        c.kv = seed % 2 ? DType::kBF16 : DType::kFP8E4M3;
        c.q = q;
        c.Hq = hh[0];
        c.Hkv = hh[1];
        c.softcap = seed % 3 ? 30.f : 0.f;
        c.sinks = true;
        c.splits = splits;
        c.bs = 8;
        check_case(c, seed++);
      }
}

// q and KV in different 16-bit types run on the CUDA-core kernel; same checks.
TEST(PagedDecodeCuda, MixedQueryAndKvTypes) {
  REQUIRE_GPU();
  uint64_t seed = 2500;
  for (DType q : {DType::kF16, DType::kBF16, DType::kF32})
    for (DType kv : {DType::kBF16, DType::kF16, DType::kFP8E4M3})
      for (int D : {64, 256}) {
        Case c;
        c.q = q;
        c.kv = kv;
        c.D = D;
        c.splits = seed % 2 ? 4 : 1;
        c.softcap = seed % 3 == 0 ? 20.f : 0.f;
        check_case(c, seed++);
      }
}

TEST(PagedDecodeCuda, LongSequencesAutoSplits) {
  REQUIRE_GPU();
  uint64_t seed = 3000;
  for (DType kv : {DType::kBF16, DType::kFP8E4M3})
    for (int bs : {16, 128}) {
      Case c;
      c.kv = kv;
      c.q = DType::kF32;
      c.bs = bs;
      c.B = 2;
      c.max_len = 6000;
      check_case(c, seed++);
    }
}

// The head-parallel variant (head dim 128): every dtype, group shapes whose unit count is not a
// multiple of 4 (idle warps), forced and automatic splits, plus placement invariance.
TEST(PagedDecodeCuda, HeadParallelVariant) {
  REQUIRE_GPU();
  ASSERT_EQ(0, setenv("PAGEDKV_DECODE_HEADS", "1", 1));
  uint64_t seed = 3500;
  const int heads[][2] = {{4, 4}, {8, 2}, {16, 2}, {32, 2}, {12, 6}};
  for (DType kv : {DType::kBF16, DType::kF16, DType::kFP8E4M3})
    for (const auto& hh : heads)
      for (int splits : {0, 1, 5}) {
        Case c;
        c.kv = kv;
        c.q = kv == DType::kF16 ? DType::kF16 : DType::kBF16;
        c.Hq = hh[0];
        c.Hkv = hh[1];
        c.splits = splits;
        c.max_len = splits == 0 ? 3000 : 400;
        c.sinks = seed % 2 == 0;
        c.softcap = seed % 3 == 0 ? 25.f : 0.f;
        c.per_head = seed % 2 == 1;
        check_case(c, seed++);
      }
  unsetenv("PAGEDKV_DECODE_HEADS");
}

// Small cases the GPU check runs again under compute-sanitizer memcheck.
TEST(PagedDecodeCudaSmall, MemcheckHeadParallel) {
  REQUIRE_GPU();
  ASSERT_EQ(0, setenv("PAGEDKV_DECODE_HEADS", "1", 1));
  uint64_t seed = 4100;
  for (DType kv : {DType::kBF16, DType::kFP8E4M3})
    for (int splits : {1, 3}) {
      Case c;
      c.kv = kv;
      c.Hq = 12;
      c.Hkv = 6;  // 6 units: the second CTA of a split has two idle warps
      c.splits = splits;
      c.max_len = 200;
      c.sinks = true;
      check_case(c, seed++);
    }
  unsetenv("PAGEDKV_DECODE_HEADS");
}

TEST(PagedDecodeCudaSmall, MemcheckSubset) {
  REQUIRE_GPU();
  uint64_t seed = 4000;
  for (DType kv : {DType::kBF16, DType::kFP8E4M3})
    for (int bs : {1, 32})
      for (int splits : {1, 4}) {
        Case c;
        c.kv = kv;
        c.bs = bs;
        c.splits = splits;
        c.max_len = 150;
        c.sinks = true;
        check_case(c, seed++);
      }
}

// Slots outside the visible ranges (stale tokens, blocks of other sequences, ring slots of a
// sliding window) may hold anything, NaN included: none of it reaches the output (P = 0 for a
// masked row is not enough, 0 * NaN = NaN: masked rows must never be loaded).
TEST(PagedDecodeCuda, InvisibleSlotsHoldingNaNAreNeverRead) {
  REQUIRE_GPU();
  uint64_t seed = 4700;
  for (DType q : {DType::kBF16, DType::kF32})  // tensor-core and CUDA-core kernels
    for (DType kv : {DType::kBF16, DType::kFP8E4M3})
      for (int bs : {1, 16, 64})
        for (int splits : {1, 4}) {
          Rng rng(seed_from_env(seed++));
          SCOPED_TRACE(str_cat("seed=", rng.seed(), " q=", dtype_name(q), " kv=", dtype_name(kv),
                               " bs=", bs, " splits=", splits));
          DecodeProblemSpec spec;
          spec.visible_len = {1, 37, 300, 16};
          spec.num_q_heads = 16;
          spec.num_kv_heads = 2;
          spec.block_size = bs;
          spec.kv_dtype = kv;
          spec.q_dtype = q;
          spec.spare_blocks = 3;
          DecodeProblem prob(spec, rng);
          // Mark the visible (block, slot) pairs, then NaN everything else in K and V.
          const int64_t row = int64_t(spec.num_kv_heads) * spec.head_dim;
          std::vector<bool> visible(size_t(prob.num_blocks()) * bs, false);
          for (int b = 0; b < prob.batch(); ++b)
            for (int t = 0; t < prob.visible_len()[b]; ++t) {
              const int s = prob.first_offset()[b] + t;
              visible[size_t(prob.indices()[prob.indptr()[b] + s / bs]) * bs + s % bs] = true;
            }
          const size_t es = dtype_size(kv);
          const uint16_t nan16 = 0x7fc0;  // bf16 quiet NaN
          const uint8_t nan8 = 0x7f;      // e4m3 NaN
          for (size_t slot = 0; slot < visible.size(); ++slot) {
            if (visible[slot]) continue;
            for (AlignedBuffer* pool : {&prob.k_pool(), &prob.v_pool()})
              for (int64_t e = 0; e < row; ++e) {
                auto* p = static_cast<uint8_t*>(pool->data()) + (int64_t(slot) * row + e) * es;
                if (es == 1)
                  *p = nan8;
                else
                  std::memcpy(p, &nan16, 2);
              }
          }
          DeviceRun run(prob, Fp8Scales{});
          run.run(splits);
          const DecodeReferenceResult ref = decode_reference_f64(run.host_params());
          EXPECT_LE(testing::relative_error(run.out().data(), q, ref.out),
                    testing::decode_error_bound(q, kv));
        }
}

}  // namespace
}  // namespace pagedkv
