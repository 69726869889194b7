// Tests of the fused paged CUDA decode kernel against the f64 reference (DESIGN.md §3 bounds),
// placement invariance bit for bit, workspace reuse / graph replay, and clear errors.
// Without a GPU, every test that needs one skips visibly; the error checks that need no device
// still run.

#include "attention/cuda/paged_decode_cuda.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <utility>
#include <vector>

#include "attention/decode_reference.h"
#include "attention/testing/decode_problem.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/device_buffer.h"
#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

using testing::DecodeProblem;
using testing::DecodeProblemSpec;

#define REQUIRE_GPU()                                                               \
  do {                                                                              \
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device present: GPU test skipped"; \
  } while (0)

// fp8 dequantisation scales applied on top of the problem (per tensor, or per kv head).
struct Fp8Scales {
  bool per_head = false;
  float k = 1.f, v = 1.f;
  std::vector<float> k_head, v_head;
};

// A problem with bf16 q and KV (the tensor-core path) over the given sequence lengths.
DecodeProblemSpec bf16_spec(std::vector<int32_t> visible_len) {
  DecodeProblemSpec spec;
  spec.visible_len = std::move(visible_len);
  spec.kv_dtype = DType::kBF16;
  spec.q_dtype = DType::kBF16;
  return spec;
}

// A DecodeProblem mirrored on the device, run through the CUDA kernel.
class DeviceRun {
 public:
  DeviceRun(DecodeProblem& prob, const Fp8Scales& sc) : prob_(prob) {
    host_ = prob.params();
    host_.kv.k_scale = sc.k;
    host_.kv.v_scale = sc.v;
    if (sc.per_head) {
      host_.kv.k_head_scale = sc.k_head.data();
      host_.kv.v_head_scale = sc.v_head.data();
    }
    q_ = DeviceBuffer::from_host(prob.q().data(), prob.q().bytes());
    k_ = DeviceBuffer::from_host(prob.k_pool().data(), prob.k_pool().bytes());
    v_ = DeviceBuffer::from_host(prob.v_pool().data(), prob.v_pool().bytes());
    out_ = DeviceBuffer(prob.out().bytes());
    lse_ = DeviceBuffer(prob.lse().size() * sizeof(float));
    indptr_ = DeviceBuffer::from_vector(prob.indptr());
    indices_ = DeviceBuffer::from_vector(prob.indices());
    first_ = DeviceBuffer::from_vector(prob.first_offset());
    len_ = DeviceBuffer::from_vector(prob.visible_len());
    if (!prob.sinks().empty()) sinks_ = DeviceBuffer::from_vector(prob.sinks());
    if (sc.per_head) {
      khs_ = DeviceBuffer::from_vector(sc.k_head);
      vhs_ = DeviceBuffer::from_vector(sc.v_head);
    }
    dev_ = host_;
    dev_.q = q_.data();
    dev_.kv.k = k_.data();
    dev_.kv.v = v_.data();
    dev_.kv.k_head_scale = sc.per_head ? khs_.as<float>() : nullptr;
    dev_.kv.v_head_scale = sc.per_head ? vhs_.as<float>() : nullptr;
    dev_.pages.indptr = indptr_.as<int32_t>();
    dev_.pages.indices = indices_.as<int32_t>();
    dev_.pages.first_offset = first_.as<int32_t>();
    dev_.pages.visible_len = len_.as<int32_t>();
    dev_.sinks = prob.sinks().empty() ? nullptr : sinks_.as<float>();
    dev_.out = out_.data();
    dev_.lse = lse_.as<float>();
  }

  // Plans for this problem (forced split count when splits > 0), runs once, fetches out + lse.
  void run(int splits, int expected_len = 0) {
    PagedDecodeCudaShape shape;
    shape.batch_size = prob_.batch();
    shape.num_q_heads = host_.num_q_heads;
    shape.num_kv_heads = host_.kv.num_kv_heads;
    shape.head_dim = host_.kv.head_dim;
    shape.kv_dtype = host_.kv.dtype;
    shape.q_dtype = host_.q_dtype;
    shape.num_splits = splits;
    shape.expected_len = expected_len > 0 ? expected_len
                                          : *std::max_element(prob_.visible_len().begin(),
                                                              prob_.visible_len().end());
    plan_ = plan_paged_decode_cuda(shape);
    ws_ = DeviceBuffer(plan_.workspace_bytes);
    init_paged_decode_workspace(plan_, ws_.data(), nullptr);
    // Poison the outputs: every element must be written.
    cuda_check(cudaMemset(out_.data(), 0xff, out_.bytes()), "memset out");
    cuda_check(cudaMemset(lse_.data(), 0xff, lse_.bytes()), "memset lse");
    paged_decode_cuda(plan_, dev_, ws_.data(), nullptr);
    cuda_check(cudaDeviceSynchronize(), "kernel");
    fetch();
  }
  void fetch() {
    out_host_.resize(out_.bytes());
    out_.to_host(out_host_.data(), out_.bytes());
    lse_host_.resize(prob_.lse().size());
    lse_.to_host(lse_host_.data(), lse_.bytes());
  }

  const DecodeParams& host_params() const { return host_; }
  const DecodeParams& device_params() const { return dev_; }
  const PagedDecodeCudaPlan& plan() const { return plan_; }
  void* workspace() const { return ws_.data(); }
  const std::vector<uint8_t>& out() const { return out_host_; }
  const std::vector<float>& lse() const { return lse_host_; }

 private:
  DecodeProblem& prob_;
  DecodeParams host_, dev_;
  DeviceBuffer q_, k_, v_, out_, lse_, indptr_, indices_, first_, len_, sinks_, khs_, vhs_, ws_;
  PagedDecodeCudaPlan plan_;
  std::vector<uint8_t> out_host_;
  std::vector<float> lse_host_;
};

struct Case {
  DType kv = DType::kBF16;
  DType q = DType::kBF16;
  int D = 128, Hq = 8, Hkv = 2, bs = 16, B = 3, max_len = 300, splits = 0;
  float softcap = 0.f;
  bool sinks = false, per_head = false;
};

std::string describe(const Case& c) {
  return str_cat("kv=", dtype_name(c.kv), " q=", dtype_name(c.q), " D=", c.D, " Hq=", c.Hq,
                 " Hkv=", c.Hkv, " bs=", c.bs, " B=", c.B, " max_len=", c.max_len,
                 " splits=", c.splits, " softcap=", c.softcap, " sinks=", c.sinks,
                 " per_head=", c.per_head);
}

Fp8Scales make_scales(const Case& c, Rng& rng) {
  Fp8Scales s;
  if (c.kv != DType::kFP8E4M3) return s;
  s.per_head = c.per_head;
  s.k = rng.uniform(0.05f, 0.3f);
  s.v = rng.uniform(0.5f, 2.0f);
  for (int h = 0; h < c.Hkv; ++h) {
    s.k_head.push_back(rng.uniform(0.05f, 0.3f));
    s.v_head.push_back(rng.uniform(0.5f, 2.0f));
  }
  return s;
}

// Runs one case and checks out (and lse) against the f64 reference on the stored values.
void check_case(const Case& c, uint64_t seed) {
  Rng rng(seed_from_env(seed));
  SCOPED_TRACE(str_cat("seed=", rng.seed(), " ", describe(c)));
  DecodeProblemSpec spec;
  spec.visible_len = testing::random_lengths(rng, c.B, c.max_len);
  spec.num_q_heads = c.Hq;
  spec.num_kv_heads = c.Hkv;
  spec.head_dim = c.D;
  spec.block_size = c.bs;
  spec.q_dtype = c.q;
  spec.kv_dtype = c.kv;
  spec.softcap = c.softcap;
  spec.sinks = c.sinks;
  DecodeProblem prob(spec, rng);
  const Fp8Scales sc = make_scales(c, rng);
  DeviceRun run(prob, sc);
  run.run(c.splits);
  const DecodeReferenceResult ref = decode_reference_f64(run.host_params());
  const double err = testing::relative_error(run.out().data(), c.q, ref.out);
  EXPECT_LE(err, testing::decode_error_bound(c.q, c.kv)) << "splits=" << run.plan().num_splits;
  EXPECT_LE(testing::max_abs_error(run.lse().data(), ref.lse), 1e-3);
}

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
                if (es == 1) *p = nan8;
                else std::memcpy(p, &nan16, 2);
              }
          }
          DeviceRun run(prob, Fp8Scales{});
          run.run(splits);
          const DecodeReferenceResult ref = decode_reference_f64(run.host_params());
          EXPECT_LE(testing::relative_error(run.out().data(), q, ref.out),
                    testing::decode_error_bound(q, kv));
        }
}

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
