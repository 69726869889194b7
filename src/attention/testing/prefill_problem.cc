#include "attention/testing/prefill_problem.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <limits>
#include <thread>

#include "attention/decode_reference.h"
#include "core/error.h"

namespace pagedkv::testing {
namespace {

int64_t first_visible(const PrefillProblemSpec& spec, const PrefillSeqSpec& s) {
  return spec.rule.visible_begin(int64_t(s.q_pos) + 1);
}

int32_t kv_base_of(const PrefillProblemSpec& spec, const PrefillSeqSpec& s) {
  if (s.kv_base >= 0) return s.kv_base;
  return int32_t(first_visible(spec, s) / spec.block_size * spec.block_size);
}

// The pool: one "sequence" per prefill sequence holding its listed positions from kv_base on
// (slot 0 of its first block), scattered over the pool, every slot filled.
DecodeProblemSpec pool_spec(const PrefillProblemSpec& spec) {
  PKV_CHECK(!spec.seqs.empty(), InvalidArgument, "PrefillProblem: no sequences");
  spec.rule.validate();
  DecodeProblemSpec d;
  for (const PrefillSeqSpec& s : spec.seqs) {
    const int32_t base = kv_base_of(spec, s);
    PKV_CHECK(s.rows >= 1 && s.q_pos >= 0, InvalidArgument, "PrefillProblem: rows ", s.rows,
              " q_pos ", s.q_pos);
    PKV_CHECK(base >= 0 && base % spec.block_size == 0 && base <= first_visible(spec, s),
              InvalidArgument, "PrefillProblem: kv_base ", base,
              " must be a block boundary <= ", first_visible(spec, s));
    d.visible_len.push_back(s.q_pos + s.rows - base);
    d.first_offset.push_back(0);
  }
  d.num_q_heads = spec.num_q_heads;
  d.num_kv_heads = spec.num_kv_heads;
  d.head_dim = spec.head_dim;
  d.block_size = spec.block_size;
  d.q_dtype = spec.q_dtype;
  d.kv_dtype = spec.kv_dtype;
  d.shuffle_blocks = spec.shuffle_blocks;
  d.spare_blocks = spec.spare_blocks;
  d.qk_stddev = spec.qk_stddev;
  return d;
}

}  // namespace

std::string describe(const PrefillProblemSpec& spec) {
  std::string seqs;
  for (const PrefillSeqSpec& s : spec.seqs)
    seqs += str_cat(seqs.empty() ? "" : ",", s.rows, "@", s.q_pos,
                    s.kv_base >= 0 ? str_cat("/base", s.kv_base) : std::string());
  return str_cat("q=", dtype_name(spec.q_dtype), " kv=", dtype_name(spec.kv_dtype),
                 " D=", spec.head_dim, " Hq=", spec.num_q_heads, " Hkv=", spec.num_kv_heads,
                 " bs=", spec.block_size, " rule=", spec.rule.describe(), " softcap=", spec.softcap,
                 " seqs(rows@q_pos)=", seqs);
}

PrefillProblem::PrefillProblem(const PrefillProblemSpec& spec, Rng& rng)
    : spec_(spec), pool_(pool_spec(spec), rng) {
  q_indptr_.assign(1, 0);
  for (const PrefillSeqSpec& s : spec.seqs) {
    q_indptr_.push_back(q_indptr_.back() + s.rows);
    q_pos_.push_back(s.q_pos);
    kv_base_.push_back(kv_base_of(spec, s));
  }
  kv_indptr_ = pool_.indptr();
  kv_indices_ = pool_.indices();
  const size_t n = size_t(num_tokens()) * spec.num_q_heads * spec.head_dim;
  q_ = AlignedBuffer(std::max<size_t>(n * dtype_size(spec.q_dtype), 64));
  for (size_t i = 0; i < n; ++i)
    store_from_f32(q_.data(), spec.q_dtype, i, rng.normal(0.f, spec.qk_stddev));
}

PrefillProblem::PrefillProblem(const PrefillProblemSpec& spec, DecodeProblem pool)
    : spec_(spec), pool_(std::move(pool)) {}

int32_t PrefillProblem::max_seq_rows() const {
  int32_t m = 0;
  for (size_t s = 0; s + 1 < q_indptr_.size(); ++s)
    m = std::max(m, q_indptr_[s + 1] - q_indptr_[s]);
  return m;
}

float PrefillProblem::scale() const { return 1.0f / std::sqrt(float(spec_.head_dim)); }

size_t PrefillProblem::out_bytes() const {
  return size_t(num_tokens()) * spec_.num_q_heads * spec_.head_dim * dtype_size(spec_.q_dtype);
}

KvLayerView PrefillProblem::kv_view() const {
  KvLayerView v =
      make_nhd_view(pool_.k_pool().data(), pool_.v_pool().data(), spec_.kv_dtype,
                    pool_.num_blocks(), spec_.block_size, spec_.num_kv_heads, spec_.head_dim);
  v.k_scale = spec_.k_scale;
  v.v_scale = spec_.v_scale;
  if (!spec_.k_head_scale.empty()) v.k_head_scale = spec_.k_head_scale.data();
  if (!spec_.v_head_scale.empty()) v.v_head_scale = spec_.v_head_scale.data();
  return v;
}

std::vector<double> PrefillProblem::reference() const {
  const int32_t T = num_tokens(), Hq = spec_.num_q_heads, D = spec_.head_dim;
  const int32_t bs = spec_.block_size;
  const size_t row_elems = size_t(Hq) * D;
  std::vector<double> out(size_t(T) * row_elems, 0.0);
  std::vector<int32_t> seq_of(T);
  for (int32_t s = 0; s < num_seqs(); ++s)
    for (int32_t r = q_indptr_[s]; r < q_indptr_[s + 1]; ++r) seq_of[r] = s;
  const KvLayerView kv = kv_view();
  const size_t qes = dtype_size(spec_.q_dtype);

  // Rows [r0, r1) as a decode batch: row r's page list is the slice of its sequence's blocks
  // holding [visible_begin(p + 1), p].
  auto run = [&](int32_t r0, int32_t r1) {
    std::vector<int32_t> indptr{0}, indices, first, len;
    for (int32_t r = r0; r < r1; ++r) {
      const int32_t s = seq_of[r];
      const int64_t p = int64_t(q_pos_[s]) + (r - q_indptr_[s]);
      const int64_t vb = visible_begin(p);
      const int64_t rel = vb - kv_base_[s];
      PKV_CHECK(rel >= 0, InvalidArgument, "PrefillProblem: row at ", p, " sees ", vb,
                " before its first listed block at ", kv_base_[s]);
      const int64_t b1 = (p - kv_base_[s]) / bs;
      PKV_CHECK(kv_indptr_[s] + b1 < kv_indptr_[s + 1], InvalidArgument, "PrefillProblem: row at ",
                p, " is past its sequence's blocks");
      for (int64_t b = rel / bs; b <= b1; ++b) indices.push_back(kv_indices_[kv_indptr_[s] + b]);
      indptr.push_back(int32_t(indices.size()));
      first.push_back(int32_t(rel % bs));
      len.push_back(int32_t(p - vb + 1));
    }
    std::vector<uint8_t> unused_out(size_t(r1 - r0) * row_elems * qes);
    DecodeParams dp;
    dp.q = q_.as<uint8_t>() + size_t(r0) * row_elems * qes;
    dp.q_dtype = spec_.q_dtype;
    dp.num_q_heads = Hq;
    dp.kv = kv;
    dp.pages.indptr = indptr.data();
    dp.pages.indices = indices.data();
    dp.pages.first_offset = first.data();
    dp.pages.visible_len = len.data();
    dp.pages.batch_size = r1 - r0;
    dp.scale = scale();
    dp.softcap = spec_.softcap;
    dp.out = unused_out.data();  // decode_reference_f64 does not write it
    const DecodeReferenceResult res = decode_reference_f64(dp);
    std::copy(res.out.begin(), res.out.end(), out.begin() + size_t(r0) * row_elems);
  };
  const int32_t workers = std::clamp<int32_t>(int32_t(std::thread::hardware_concurrency()), 1, 32);
  const int32_t per = std::max<int32_t>(1, (T + 4 * workers - 1) / (4 * workers));
  std::vector<std::future<void>> jobs;
  for (int32_t r0 = 0; r0 < T; r0 += per) {
    const int32_t r1 = std::min(T, r0 + per);
    jobs.push_back(std::async(std::launch::async, run, r0, r1));
    if (int32_t(jobs.size()) >= workers) {  // keep at most `workers` in flight
      jobs.front().get();
      jobs.erase(jobs.begin());
    }
  }
  for (auto& j : jobs) j.get();
  return out;
}

void PrefillProblem::poison_invisible_slots() {
  const int32_t bs = spec_.block_size;
  std::vector<bool> visible(size_t(pool_.num_blocks()) * bs, false);
  for (int32_t s = 0; s < num_seqs(); ++s) {
    const int32_t rows = q_indptr_[s + 1] - q_indptr_[s];
    if (rows == 0) continue;
    // The rows' visible ranges are contiguous positions: [visible_begin(q_pos + 1), last].
    const int64_t last = int64_t(q_pos_[s]) + rows - 1;
    for (int64_t k = visible_begin(q_pos_[s]); k <= last; ++k) {
      const int64_t rel = k - kv_base_[s];
      visible[size_t(kv_indices_[kv_indptr_[s] + rel / bs]) * bs + rel % bs] = true;
    }
  }
  const size_t es = dtype_size(spec_.kv_dtype);
  const int64_t record = int64_t(spec_.num_kv_heads) * spec_.head_dim;  // elements per slot
  const uint16_t nan16 = spec_.kv_dtype == DType::kF16 ? 0x7e00 : 0x7fc0;
  const uint8_t nan8 = 0x7f;  // e4m3 NaN
  for (size_t slot = 0; slot < visible.size(); ++slot) {
    if (visible[slot]) continue;
    for (AlignedBuffer* pool : {&pool_.k_pool(), &pool_.v_pool()})
      for (int64_t e = 0; e < record; ++e) {
        auto* p = static_cast<uint8_t*>(pool->data()) + (int64_t(slot) * record + e) * es;
        if (es == 1)
          *p = nan8;
        else
          std::memcpy(p, &nan16, 2);
      }
  }
}

PrefillProblem PrefillProblem::relocated(const std::vector<int32_t>& new_id) const {
  PrefillProblem r(spec_, pool_.relocated(new_id));
  r.q_ = AlignedBuffer(q_.bytes());
  std::memcpy(r.q_.data(), q_.data(), q_.bytes());
  r.q_indptr_ = q_indptr_;
  r.q_pos_ = q_pos_;
  r.kv_indptr_ = kv_indptr_;
  r.kv_base_ = kv_base_;
  r.kv_indices_.resize(kv_indices_.size());
  for (size_t i = 0; i < kv_indices_.size(); ++i) r.kv_indices_[i] = new_id[kv_indices_[i]];
  return r;
}

PrefillProblem PrefillProblem::clone() const {
  std::vector<int32_t> same(pool_.num_blocks());
  for (int32_t i = 0; i < pool_.num_blocks(); ++i) same[i] = i;
  return relocated(same);
}

std::vector<int32_t> PrefillProblem::contiguous_order() const {
  const int32_t nb = pool_.num_blocks();
  std::vector<int32_t> new_id(nb, -1);
  int32_t next = 0;
  for (int32_t id : kv_indices_)
    if (new_id[id] < 0) new_id[id] = next++;
  for (int32_t i = 0; i < nb; ++i)
    if (new_id[i] < 0) new_id[i] = next++;
  return new_id;
}

std::string RowError::where() const {
  return str_cat("worst row error ", worst, " at token ", token, " head ", head);
}

RowError worst_row_error(const void* out, DType out_dtype, const std::vector<double>& ref,
                         int32_t num_q_heads, int32_t head_dim) {
  RowError e;
  const size_t rows = ref.size() / size_t(head_dim);
  for (size_t row = 0; row < rows; ++row) {
    double num = 0.0, den = 0.0;
    bool finite = true;
    for (int32_t d = 0; d < head_dim; ++d) {
      const size_t i = row * head_dim + d;
      const double o = load_as_f32(out, out_dtype, i);
      if (!std::isfinite(o)) finite = false;
      num += (o - ref[i]) * (o - ref[i]);
      den += ref[i] * ref[i];
    }
    const double err = !finite     ? std::numeric_limits<double>::infinity()
                       : den > 0.0 ? std::sqrt(num / den)
                                   : std::sqrt(num);
    if (err > e.worst || e.token < 0) {
      e.worst = err;
      e.token = int64_t(row / num_q_heads);
      e.head = int64_t(row % num_q_heads);
    }
  }
  return e;
}

double prefill_error_bound(DType q_dtype, DType kv_dtype) {
  return decode_error_bound(q_dtype, kv_dtype);
}

}  // namespace pagedkv::testing
