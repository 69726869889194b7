// Test support for the CUDA decode kernel (see device_run.h).

#include "attention/cuda/testing/device_run.h"

#include <algorithm>
#include <utility>

#include "attention/decode_reference.h"
#include "core/cuda/cuda_check.h"
#include "core/error.h"

namespace pagedkv::testing {

DecodeProblemSpec bf16_spec(std::vector<int32_t> visible_len) {
  DecodeProblemSpec spec;
  spec.visible_len = std::move(visible_len);
  spec.kv_dtype = DType::kBF16;
  spec.q_dtype = DType::kBF16;
  return spec;
}

DeviceRun::DeviceRun(DecodeProblem& prob, const Fp8Scales& sc) : prob_(prob) {
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

void DeviceRun::run(int splits, int expected_len) {
  PagedDecodeCudaShape shape;
  shape.batch_size = prob_.batch();
  shape.num_q_heads = host_.num_q_heads;
  shape.num_kv_heads = host_.kv.num_kv_heads;
  shape.head_dim = host_.kv.head_dim;
  shape.kv_dtype = host_.kv.dtype;
  shape.q_dtype = host_.q_dtype;
  shape.num_splits = splits;
  shape.expected_len =
      expected_len > 0 ? expected_len
                       : *std::max_element(prob_.visible_len().begin(), prob_.visible_len().end());
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

void DeviceRun::fetch() {
  out_host_.resize(out_.bytes());
  out_.to_host(out_host_.data(), out_.bytes());
  lse_host_.resize(prob_.lse().size());
  lse_.to_host(lse_host_.data(), lse_.bytes());
}

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

void check_case(const Case& c, uint64_t seed) {
  Rng rng(seed_from_env(seed));
  SCOPED_TRACE(str_cat("seed=", rng.seed(), " ", describe(c)));
  DecodeProblemSpec spec;
  spec.visible_len = random_lengths(rng, c.B, c.max_len);
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
  const double err = relative_error(run.out().data(), c.q, ref.out);
  EXPECT_LE(err, decode_error_bound(c.q, c.kv)) << "splits=" << run.plan().num_splits;
  EXPECT_LE(max_abs_error(run.lse().data(), ref.lse), 1e-3);
}

}  // namespace pagedkv::testing
