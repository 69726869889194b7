#pragma once
// Test support for the CUDA paged prefill kernel: a PrefillProblem mirrored on the device and run
// through plan_paged_prefill_cuda + paged_prefill_cuda, and the check of one problem against the
// f64 reference (prints seed, shape and worst row error).

#include <cstdint>
#include <string>
#include <vector>

#include "attention/cuda/paged_prefill_cuda.h"
#include "attention/testing/prefill_problem.h"
#include "core/cuda/device_buffer.h"
#include "core/random.h"

namespace pagedkv::testing {

class PrefillDeviceRun {
 public:
  // Uploads q, the pool, the tables and the fp8 per-head scales; out is allocated, not written.
  explicit PrefillDeviceRun(const PrefillProblem& prob);

  // The shape of sequences [first, first + count) of the problem.
  PagedPrefillCudaShape shape(int32_t first = 0, int32_t count = -1) const;
  // Device params for sequences [first, first + count): table pointers offset by `first`, q and
  // out unchanged (the row indices in q_indptr are absolute).
  PagedPrefillCudaParams params(int32_t first = 0, int32_t count = -1) const;

  void poison_out();  // 0xff bytes (NaN in bf16 and f16): every row must be written
  // Plans and launches sequences [first, first + count) on the default stream, synchronises.
  void launch(int32_t first = 0, int32_t count = -1);
  // poison_out, launch all, fetch.
  void run();
  void fetch();  // out -> out()

  const std::vector<uint8_t>& out() const { return out_host_; }
  const PagedPrefillCudaPlan& plan() const { return plan_; }

 private:
  const PrefillProblem& prob_;
  DeviceBuffer q_, k_, v_, out_, q_indptr_, q_pos_, kv_indptr_, kv_indices_, kv_base_, khs_, vhs_;
  PagedPrefillCudaPlan plan_;
  std::vector<uint8_t> out_host_;
};

// Random fp8 dequantisation scales for a spec (per tensor, or per kv head); no-op for 16-bit KV.
void set_fp8_scales(PrefillProblemSpec& spec, Rng& rng, bool per_head);

// Where two outputs [T, Hq, D] of element size es first differ ("identical" if they do not).
std::string first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                             size_t es, int32_t num_q_heads, int32_t head_dim);

// Runs `prob` on the device and checks every row against the reference; prints one line
// (label, seed, shape, worst row error, bound). Returns the worst error.
double check_prefill(const PrefillProblem& prob, uint64_t seed, const std::string& label = "");

}  // namespace pagedkv::testing
