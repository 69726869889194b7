// Clear errors from the CUDA paged prefill planner (no GPU needed) and run step (before any
// launch: the output keeps its bytes).

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
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

using testing::PrefillDeviceRun;
using testing::PrefillProblem;
using testing::PrefillProblemSpec;

PagedPrefillCudaShape good_shape() {
  PagedPrefillCudaShape s;
  s.num_q_heads = 8;
  s.num_kv_heads = 2;
  s.head_dim = 128;
  s.q_dtype = DType::kBF16;
  s.kv_dtype = DType::kBF16;
  s.num_seqs = 2;
  s.max_seq_rows = 10;
  return s;
}

// Runs f, which must throw Error of `kind` whose message contains `needle`.
void expect_error(const std::function<void()>& f, ErrorKind kind, const std::string& needle,
                  const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << what << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << what << ": message '" << e.what() << "' does not name '" << needle << "'";
  }
}

TEST(PagedPrefillCudaErrors, UnsupportedShapesAreClearErrors) {
  struct C {
    std::function<void(PagedPrefillCudaShape&)> edit;
    ErrorKind kind;
    const char* needle;
  };
  const std::vector<C> cases = {
      {[](auto& s) { s.head_dim = 96; }, ErrorKind::kUnsupported, "head_dim 96"},
      {[](auto& s) { s.head_dim = 80; }, ErrorKind::kUnsupported, "head_dim 80"},
      {[](auto& s) {
         s.num_q_heads = 64;
         s.num_kv_heads = 2;
       },
       ErrorKind::kUnsupported, "GQA ratio 32"},
      {[](auto& s) { s.num_q_heads = 7; }, ErrorKind::kInvalidArgument, "num_q_heads 7"},
      {[](auto& s) { s.num_kv_heads = 0; }, ErrorKind::kInvalidArgument, "num_kv_heads 0"},
      {[](auto& s) {
         s.q_dtype = DType::kF32;
         s.kv_dtype = DType::kF32;
       },
       ErrorKind::kUnsupported, "q dtype f32"},
      {[](auto& s) { s.kv_dtype = DType::kF16; }, ErrorKind::kUnsupported, "KV dtype f16"},
      {[](auto& s) { s.kv_dtype = DType::kF32; }, ErrorKind::kUnsupported, "KV dtype f32"},
      {[](auto& s) { s.num_seqs = 0; }, ErrorKind::kInvalidArgument, "num_seqs 0"},
      {[](auto& s) { s.num_seqs = 70000; }, ErrorKind::kInvalidArgument, "num_seqs 70000"},
      {[](auto& s) { s.max_seq_rows = 0; }, ErrorKind::kInvalidArgument, "max_seq_rows 0"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    PagedPrefillCudaShape s = good_shape();
    cases[i].edit(s);
    expect_error([&] { plan_paged_prefill_cuda(s); }, cases[i].kind, cases[i].needle,
                 str_cat("shape case ", i));
  }
}

// Every bad field is refused by name before anything is launched: the poisoned output keeps its
// bytes; the good params then run.
TEST(PagedPrefillCudaErrors, BadParamsAreRefusedBeforeLaunch) {
  REQUIRE_GPU();
  const uint64_t seed = seed_from_env(23000);
  Rng rng(seed);
  PrefillProblemSpec spec;
  spec.num_q_heads = 8;
  spec.num_kv_heads = 2;
  spec.seqs = {{40, 0}, {17, 30}};
  PrefillProblem prob(spec, rng);
  SCOPED_TRACE(str_cat("seed=", seed, " ", describe(spec)));
  PrefillDeviceRun run(prob);
  const PagedPrefillCudaPlan plan = plan_paged_prefill_cuda(run.shape());
  const PagedPrefillCudaParams good = run.params();
  run.poison_out();
  run.fetch();
  const std::vector<uint8_t> poisoned = run.out();

  struct C {
    std::function<void(PagedPrefillCudaParams&)> edit;
    const char* needle;
  };
  const std::vector<C> cases = {
      {[](auto& p) { p.q = nullptr; }, "q is null"},
      {[](auto& p) { p.out = nullptr; }, "out is null"},
      {[](auto& p) { p.kv.k = nullptr; }, "pool pointer is null"},
      {[](auto& p) { p.kv_indices = nullptr; }, "table pointer is null"},
      {[](auto& p) { p.q_indptr = nullptr; }, "table pointer is null"},
      {[](auto& p) { p.kv_base = nullptr; }, "table pointer is null"},
      {[](auto& p) { p.q = static_cast<const uint8_t*>(p.q) + 2; }, "16-byte aligned"},
      {[](auto& p) { p.num_tokens = 0; }, "num_tokens 0"},
      {[](auto& p) { p.rule = AttentionRule::sliding(0); }, "bad attention rule sliding(W=0)"},
      {[](auto& p) { p.rule = AttentionRule::chunked(-3); }, "bad attention rule chunked(C=-3)"},
      {[](auto& p) { p.rule.kind = static_cast<AttentionKind>(7); }, "bad attention rule"},
      {[](auto& p) { p.scale = 0.f; }, "scale 0"},
      {[](auto& p) { p.softcap = -1.f; }, "softcap -1"},
      {[](auto& p) { p.kv.dtype = DType::kF16; }, "does not match the plan"},
      {[](auto& p) { p.kv.head_dim = 64; }, "does not match the plan"},
      {[](auto& p) { p.kv.num_kv_heads = 4; }, "does not match the plan"},
      {[](auto& p) { p.kv.block_size = 12; }, "block_size 12"},
      {[](auto& p) { p.kv.block_size = 512; }, "block_size 512"},
      {[](auto& p) { p.kv.stride_block = int64_t(1) << 31; }, "< 4 GiB"},  // 4 GiB of bf16
      {[](auto& p) { p.kv.stride_token = int64_t(1) << 31; }, "< 4 GiB"},
      {[](auto& p) { p.kv.stride_token += 3; }, "16-byte aligned"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    PagedPrefillCudaParams p = good;
    cases[i].edit(p);
    expect_error([&] { paged_prefill_cuda(plan, p, nullptr); }, ErrorKind::kInvalidArgument,
                 cases[i].needle, str_cat("params case ", i, " (", cases[i].needle, ")"));
  }
  // A plan for another shape, or one not made by the planner.
  PagedPrefillCudaPlan other = plan;
  other.shape.head_dim = 96;
  expect_error([&] { paged_prefill_cuda(other, good, nullptr); }, ErrorKind::kUnsupported,
               "head_dim 96", "plan with head_dim 96");
  PagedPrefillCudaPlan blank;
  blank.shape = plan.shape;
  expect_error([&] { paged_prefill_cuda(blank, good, nullptr); }, ErrorKind::kInvalidArgument,
               "plan_paged_prefill_cuda", "plan not from the planner");

  cuda_check(cudaDeviceSynchronize(), "sync");
  run.fetch();
  EXPECT_EQ(run.out(), poisoned) << "a refused call wrote the output";
  paged_prefill_cuda(plan, good, nullptr);
  cuda_check(cudaDeviceSynchronize(), "sync");
  run.fetch();
  EXPECT_NE(run.out(), poisoned) << "the good call did not write the output";
}

}  // namespace
}  // namespace pagedkv
