#include "attention/testing/decode_problem.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "attention/decode_validate.h"
#include "core/error.h"

namespace pagedkv::testing {

VisibleRange visible_range(const AttentionRule& rule, int32_t len) {
  const int32_t start = int32_t(rule.visible_begin(len));
  return {start, len - start};
}

std::vector<int32_t> random_lengths(Rng& rng, int32_t batch, int32_t max_len) {
  std::vector<int32_t> lens(batch);
  // Log-uniform: every scale from 1 to max_len is represented while the total stays modest.
  const float top = std::log(float(max_len) + 1.0f);
  for (int32_t& l : lens) {
    l = std::clamp(int32_t(std::exp(rng.uniform(0.0f, top))), 1, max_len);
  }
  if (batch >= 1) lens[0] = max_len;
  if (batch >= 2) lens[1] = 1;
  return lens;
}

namespace {
constexpr uint8_t kPoisonByte = 0xA5;
}

DecodeProblem::DecodeProblem(const DecodeProblemSpec& spec, Rng& rng) : spec_(spec) {
  const int32_t B = int32_t(spec.visible_len.size());
  const int32_t bs = spec.block_size, Hkv = spec.num_kv_heads, D = spec.head_dim;
  PKV_CHECK(bs >= 1 && Hkv >= 1 && D >= 1 && spec.num_q_heads >= 1, InvalidArgument,
            "DecodeProblem: bad geometry");
  visible_len_ = spec.visible_len;
  first_offset_.resize(B);
  for (int32_t b = 0; b < B; ++b) {
    first_offset_[b] =
        spec.first_offset.empty() ? int32_t(rng.uniform_int(0, bs - 1)) : spec.first_offset[b];
  }
  indptr_.assign(B + 1, 0);
  for (int32_t b = 0; b < B; ++b) {
    indptr_[b + 1] = indptr_[b] + int32_t(blocks_needed(first_offset_[b], visible_len_[b], bs));
  }
  const int32_t used = indptr_[B];
  num_blocks_ = used + spec.spare_blocks;
  PKV_CHECK(num_blocks_ >= 1, InvalidArgument, "DecodeProblem: empty pool");
  // Identity: sequence blocks in order; shuffled: a random permutation of the pool's ids.
  std::vector<int32_t> ids(num_blocks_);
  std::iota(ids.begin(), ids.end(), 0);
  if (spec.shuffle_blocks) std::shuffle(ids.begin(), ids.end(), rng.engine());
  indices_.assign(ids.begin(), ids.begin() + used);

  const size_t kv_elems = size_t(num_blocks_) * bs * Hkv * D;
  const size_t kv_bytes = kv_elems * dtype_size(spec.kv_dtype);
  k_ = AlignedBuffer(std::max<size_t>(kv_bytes, 64));
  v_ = AlignedBuffer(std::max<size_t>(kv_bytes, 64));
  // Every slot gets random data, including slots outside the visible range: a kernel that reads
  // a token it must not see picks up noise and fails the comparison.
  for (size_t i = 0; i < kv_elems; ++i) {
    store_from_f32(k_.data(), spec.kv_dtype, i, rng.normal(0.f, spec.qk_stddev));
    store_from_f32(v_.data(), spec.kv_dtype, i, rng.normal(0.f, 1.f));
  }
  const size_t q_elems = size_t(B) * spec.num_q_heads * D;
  q_ = AlignedBuffer(std::max<size_t>(q_elems * dtype_size(spec.q_dtype), 64));
  for (size_t i = 0; i < q_elems; ++i) {
    store_from_f32(q_.data(), spec.q_dtype, i, rng.normal(0.f, spec.qk_stddev));
  }
  out_ = AlignedBuffer(std::max<size_t>(q_elems * dtype_size(spec.q_dtype), 64));
  lse_.assign(size_t(B) * spec.num_q_heads, 0.f);
  if (spec.sinks) {
    sinks_.resize(spec.num_q_heads);
    for (float& s : sinks_) s = rng.normal(0.f, 2.f);
  }
  poison_outputs();
}

DecodeParams DecodeProblem::params() {
  DecodeParams p;
  p.q = q_.data();
  p.q_dtype = spec_.q_dtype;
  p.num_q_heads = spec_.num_q_heads;
  p.kv = make_nhd_view(k_.data(), v_.data(), spec_.kv_dtype, num_blocks_, spec_.block_size,
                       spec_.num_kv_heads, spec_.head_dim);
  p.pages.indptr = indptr_.data();
  p.pages.indices = indices_.data();
  p.pages.first_offset = first_offset_.data();
  p.pages.visible_len = visible_len_.data();
  p.pages.batch_size = batch();
  p.scale = 1.0f / std::sqrt(float(spec_.head_dim));
  p.softcap = spec_.softcap;
  p.sinks = sinks_.empty() ? nullptr : sinks_.data();
  p.out = out_.data();
  p.lse = lse_.data();
  return p;
}

size_t DecodeProblem::block_bytes() const {
  return size_t(spec_.block_size) * spec_.num_kv_heads * spec_.head_dim *
         dtype_size(spec_.kv_dtype);
}

void DecodeProblem::copy_block(int32_t src, int32_t dst) {
  const size_t n = block_bytes();
  std::memcpy(k_.as<uint8_t>() + size_t(dst) * n, k_.as<uint8_t>() + size_t(src) * n, n);
  std::memcpy(v_.as<uint8_t>() + size_t(dst) * n, v_.as<uint8_t>() + size_t(src) * n, n);
}

DecodeProblem DecodeProblem::relocated(const std::vector<int32_t>& new_id) const {
  PKV_CHECK(int32_t(new_id.size()) == num_blocks_, InvalidArgument, "relocated: permutation size ",
            new_id.size(), " != num_blocks ", num_blocks_);
  DecodeProblem r;
  r.spec_ = spec_;
  r.num_blocks_ = num_blocks_;
  r.indptr_ = indptr_;
  r.first_offset_ = first_offset_;
  r.visible_len_ = visible_len_;
  r.lse_ = lse_;
  r.sinks_ = sinks_;
  r.indices_.resize(indices_.size());
  for (size_t i = 0; i < indices_.size(); ++i) r.indices_[i] = new_id[indices_[i]];
  auto clone = [](const AlignedBuffer& a) {
    AlignedBuffer c(a.bytes());
    std::memcpy(c.data(), a.data(), a.bytes());
    return c;
  };
  r.q_ = clone(q_);
  r.out_ = clone(out_);
  const size_t n = block_bytes();
  r.k_ = AlignedBuffer(k_.bytes());
  r.v_ = AlignedBuffer(v_.bytes());
  for (int32_t i = 0; i < num_blocks_; ++i) {
    std::memcpy(r.k_.as<uint8_t>() + size_t(new_id[i]) * n, k_.as<uint8_t>() + size_t(i) * n, n);
    std::memcpy(r.v_.as<uint8_t>() + size_t(new_id[i]) * n, v_.as<uint8_t>() + size_t(i) * n, n);
  }
  return r;
}

void DecodeProblem::poison_outputs() {
  std::memset(out_.data(), kPoisonByte, out_.bytes());
  float poison;
  const uint32_t bits = 0xA5A5A5A5u;
  std::memcpy(&poison, &bits, 4);
  std::fill(lse_.begin(), lse_.end(), poison);
}

bool DecodeProblem::outputs_poisoned() const {
  const uint8_t* o = out_.as<uint8_t>();
  for (size_t i = 0; i < out_.bytes(); ++i) {
    if (o[i] != kPoisonByte) return false;
  }
  for (float f : lse_) {
    if (f32_bits(f) != 0xA5A5A5A5u) return false;
  }
  return true;
}

double relative_error(const void* out, DType t, const std::vector<double>& ref) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double o = load_as_f32(out, t, i);
    if (!std::isfinite(o)) return std::numeric_limits<double>::infinity();
    num += (o - ref[i]) * (o - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

double relative_error(const float* out, const std::vector<double>& ref) {
  return relative_error(static_cast<const void*>(out), DType::kF32, ref);
}

double max_abs_error(const float* out, const std::vector<double>& ref) {
  double worst = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(out[i])) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::abs(double(out[i]) - ref[i]));
  }
  return worst;
}

double decode_error_bound(DType out_dtype, DType /*kv_dtype*/) {
  switch (out_dtype) {
    case DType::kF32:
      return 1e-5;
    case DType::kF16:
      return 2e-3;
    case DType::kBF16:
      return 1e-2;
    default:
      return 1e-2;
  }
}

}  // namespace pagedkv::testing
