// Test support for the CUDA paged prefill kernel (see prefill_device_run.h).

#include "attention/cuda/testing/prefill_device_run.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "core/cuda/cuda_check.h"
#include "core/error.h"

namespace pagedkv::testing {

PrefillDeviceRun::PrefillDeviceRun(const PrefillProblem& prob) : prob_(prob) {
  const DecodeProblem& pool = prob.pool();
  q_ = DeviceBuffer::from_host(prob.q().data(), prob.q().bytes());
  k_ = DeviceBuffer::from_host(pool.k_pool().data(), pool.k_pool().bytes());
  v_ = DeviceBuffer::from_host(pool.v_pool().data(), pool.v_pool().bytes());
  out_ = DeviceBuffer(std::max<size_t>(prob.out_bytes(), 16));
  q_indptr_ = DeviceBuffer::from_vector(prob.q_indptr());
  q_pos_ = DeviceBuffer::from_vector(prob.q_pos());
  kv_indptr_ = DeviceBuffer::from_vector(prob.kv_indptr());
  kv_indices_ = DeviceBuffer::from_vector(prob.kv_indices());
  kv_base_ = DeviceBuffer::from_vector(prob.kv_base());
  if (!prob.spec().k_head_scale.empty()) {
    khs_ = DeviceBuffer::from_vector(prob.spec().k_head_scale);
    vhs_ = DeviceBuffer::from_vector(prob.spec().v_head_scale);
  }
}

PagedPrefillCudaShape PrefillDeviceRun::shape(int32_t first, int32_t count) const {
  if (count < 0) count = prob_.num_seqs() - first;
  const auto& spec = prob_.spec();
  PagedPrefillCudaShape s;
  s.num_q_heads = spec.num_q_heads;
  s.num_kv_heads = spec.num_kv_heads;
  s.head_dim = spec.head_dim;
  s.q_dtype = spec.q_dtype;
  s.kv_dtype = spec.kv_dtype;
  s.num_seqs = count;
  for (int32_t i = first; i < first + count; ++i)
    s.max_seq_rows = std::max(s.max_seq_rows, prob_.q_indptr()[i + 1] - prob_.q_indptr()[i]);
  return s;
}

PagedPrefillCudaParams PrefillDeviceRun::params(int32_t first, int32_t /*count*/) const {
  PagedPrefillCudaParams p;
  p.q = q_.data();
  p.num_tokens = prob_.num_tokens();
  p.q_indptr = q_indptr_.as<int32_t>() + first;
  p.q_pos = q_pos_.as<int32_t>() + first;
  p.kv = prob_.kv_view();
  p.kv.k = k_.data();
  p.kv.v = v_.data();
  p.kv.k_head_scale = khs_.bytes() ? khs_.as<float>() : nullptr;
  p.kv.v_head_scale = vhs_.bytes() ? vhs_.as<float>() : nullptr;
  p.kv_indptr = kv_indptr_.as<int32_t>() + first;
  p.kv_indices = kv_indices_.as<int32_t>();
  p.kv_base = kv_base_.as<int32_t>() + first;
  p.rule = prob_.spec().rule;
  p.scale = prob_.scale();
  p.softcap = prob_.spec().softcap;
  p.out = out_.data();
  return p;
}

void PrefillDeviceRun::poison_out() {
  cuda_check(cudaMemset(out_.data(), 0xff, out_.bytes()), "memset out");
}

void PrefillDeviceRun::launch(int32_t first, int32_t count) {
  plan_ = plan_paged_prefill_cuda(shape(first, count));
  paged_prefill_cuda(plan_, params(first, count), nullptr);
  cuda_check(cudaDeviceSynchronize(), "paged_prefill_cuda kernel");
}

void PrefillDeviceRun::run() {
  poison_out();
  launch();
  fetch();
}

void PrefillDeviceRun::fetch() {
  out_host_.resize(prob_.out_bytes());
  out_.to_host(out_host_.data(), out_host_.size());
}

void set_fp8_scales(PrefillProblemSpec& spec, Rng& rng, bool per_head) {
  if (spec.kv_dtype != DType::kFP8E4M3) return;
  spec.k_scale = rng.uniform(0.3f, 1.5f);
  spec.v_scale = rng.uniform(0.5f, 2.0f);
  spec.k_head_scale.clear();
  spec.v_head_scale.clear();
  if (!per_head) return;
  for (int32_t h = 0; h < spec.num_kv_heads; ++h) {
    spec.k_head_scale.push_back(rng.uniform(0.3f, 1.5f));
    spec.v_head_scale.push_back(rng.uniform(0.5f, 2.0f));
  }
}

std::string first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                             size_t es, int32_t num_q_heads, int32_t head_dim) {
  if (a.size() != b.size()) return str_cat("sizes differ: ", a.size(), " vs ", b.size());
  size_t count = 0, first = a.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) {
      if (first == a.size()) first = i;
      ++count;
    }
  if (count == 0) return "identical";
  const size_t e = first / es;
  return str_cat(count, " bytes differ; first at token ", e / (size_t(num_q_heads) * head_dim),
                 " head ", e / head_dim % num_q_heads, " dim ", e % head_dim);
}

double check_prefill(const PrefillProblem& prob, uint64_t seed, const std::string& label) {
  const auto& spec = prob.spec();
  PrefillDeviceRun run(prob);
  run.run();
  const std::vector<double> ref = prob.reference();
  const RowError e =
      worst_row_error(run.out().data(), spec.q_dtype, ref, spec.num_q_heads, spec.head_dim);
  const double bound = prefill_error_bound(spec.q_dtype, spec.kv_dtype);
  std::printf("[prefill] %s seed=%llu %s T=%d grid=(%u,%u,%u) smem=%zu: %s (bound %g)%s\n",
              label.c_str(), static_cast<unsigned long long>(seed), describe(spec).c_str(),
              prob.num_tokens(), run.plan().grid.x, run.plan().grid.y, run.plan().grid.z,
              run.plan().smem_bytes, e.where().c_str(), bound, e.worst <= bound ? "" : "  FAIL");
  std::fflush(stdout);
  EXPECT_LE(e.worst, bound) << label << " seed=" << seed << " " << describe(spec) << ": "
                            << e.where();
  return e.worst;
}

}  // namespace pagedkv::testing
