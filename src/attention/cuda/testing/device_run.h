#pragma once
// Test support for the CUDA decode kernel: a DecodeProblem mirrored on the device and run through
// paged_decode_cuda (DeviceRun), and randomized cases checked against the f64 reference.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "attention/cuda/paged_decode_cuda.h"
#include "attention/testing/decode_problem.h"
#include "core/cuda/device_buffer.h"
#include "core/random.h"

// Skips the test visibly when no CUDA device is present.
#define REQUIRE_GPU()                                             \
  do {                                                            \
    if (!::pagedkv::cuda_device_available())                      \
      GTEST_SKIP() << "no CUDA device present: GPU test skipped"; \
  } while (0)

namespace pagedkv::testing {

// fp8 dequantisation scales applied on top of the problem (per tensor, or per kv head).
struct Fp8Scales {
  bool per_head = false;
  float k = 1.f, v = 1.f;
  std::vector<float> k_head, v_head;
};

// A problem with bf16 q and KV (the tensor-core path) over the given sequence lengths.
DecodeProblemSpec bf16_spec(std::vector<int32_t> visible_len);

// A DecodeProblem mirrored on the device, run through the CUDA kernel.
class DeviceRun {
 public:
  DeviceRun(DecodeProblem& prob, const Fp8Scales& sc);

  // Plans for this problem (forced split count when splits > 0), runs once, fetches out + lse.
  void run(int splits, int expected_len = 0);
  void fetch();

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

// One randomized case of the sweeps.
struct Case {
  DType kv = DType::kBF16;
  DType q = DType::kBF16;
  int D = 128, Hq = 8, Hkv = 2, bs = 16, B = 3, max_len = 300, splits = 0;
  float softcap = 0.f;
  bool sinks = false, per_head = false;
};

std::string describe(const Case& c);

// fp8 scales for a case (random, per tensor or per kv head); the identity for 16-bit KV.
Fp8Scales make_scales(const Case& c, Rng& rng);

// Runs one case and checks out (and lse) against the f64 reference on the stored values.
void check_case(const Case& c, uint64_t seed);

}  // namespace pagedkv::testing
