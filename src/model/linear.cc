// Dense layers with Highway (static dispatch, like the CPU decode engine).
//
// Why not BLAS: a sequence's logits must not depend on which other sequences share its batch
// (paged_model_test: a batch of different lengths gives each sequence the bits it gets alone).
// OpenBLAS picks kernels by the matrix shape, so row r of an sgemm with M = 3 need not equal the
// same row computed with M = 1 (on a CPU OpenBLAS does not recognise it falls back to generic
// kernels that differ in the last bits). Here every output element is one fixed sequence of
// vector FMAs over k, whatever the row count: row-independent by construction.
// Cost: both kernels stream the weights once per call from L2-sized tiles while every row group
// (4 rows, which share each weight load) passes over them; single-threaded.

#include "model/linear.h"

#include <algorithm>
#include <cstring>

#define HWY_COMPILE_ONLY_STATIC 1
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace pagedkv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);
constexpr int64_t kRows = 4;                // rows sharing each weight load
constexpr int64_t kTileBytes = 256 * 1024;  // weights per tile (stays in L2 across row groups)

// Weight rows of length k (or columns of height k) that fit one tile.
int64_t per_tile(int64_t k) {
  return kTileBytes / int64_t(sizeof(float)) / std::max<int64_t>(k, 1);
}

// The first n (< a vector) floats at p, zero-padded: a tail load that never reads past p + n
// (Highway's masked load reads the whole vector on SSE targets).
HWY_INLINE hn::Vec<DF> load_tail(const float* HWY_RESTRICT p, size_t n) {
  float buf[kMaxLanes] = {};
  std::memcpy(buf, p, n * sizeof(float));
  return hn::LoadU(DF(), buf);
}

// y[r, o] = sum_k x[r, k] * w[o, k] for rows [r0, r0 + nr), outputs [o0, o1).
void dot_rows(const float* HWY_RESTRICT x, int64_t r0, int64_t nr, int64_t k,
              const float* HWY_RESTRICT w, int64_t o0, int64_t o1, int64_t n,
              float* HWY_RESTRICT y) {
  const DF d;
  const int64_t L = int64_t(hn::Lanes(d));
  const int64_t kv = k / L * L;
  for (int64_t o = o0; o < o1; ++o) {
    const float* wo = w + o * k;
    hn::Vec<DF> acc[kRows];
    for (auto& a : acc) a = hn::Zero(d);
    for (int64_t i = 0; i < kv; i += L) {
      const auto wv = hn::LoadU(d, wo + i);
      for (int64_t r = 0; r < nr; ++r)
        acc[r] = hn::MulAdd(hn::LoadU(d, x + (r0 + r) * k + i), wv, acc[r]);
    }
    if (kv < k) {
      const auto wv = load_tail(wo + kv, size_t(k - kv));
      for (int64_t r = 0; r < nr; ++r)
        acc[r] = hn::MulAdd(load_tail(x + (r0 + r) * k + kv, size_t(k - kv)), wv, acc[r]);
    }
    for (int64_t r = 0; r < nr; ++r) y[(r0 + r) * n + o] = hn::GetLane(hn::SumOfLanes(d, acc[r]));
  }
}

void matmul_nt(const float* x, int64_t rows, int64_t k, const float* w, int64_t n, float* y) {
  const int64_t tile = std::max<int64_t>(1, per_tile(k));
  for (int64_t o0 = 0; o0 < n; o0 += tile)
    for (int64_t r0 = 0; r0 < rows; r0 += kRows)
      dot_rows(x, r0, std::min(kRows, rows - r0), k, w, o0, std::min(n, o0 + tile), n, y);
}

// y[r, :] = sum_k x[r, k] * w[k, :], vectorised over the outputs: per element, FMAs over k in
// order. Columns in L2-sized tiles of w's rows.
void matmul_kn(const float* HWY_RESTRICT x, int64_t rows, int64_t k, const float* HWY_RESTRICT w,
               int64_t n, float* HWY_RESTRICT y) {
  const DF d;
  const int64_t L = int64_t(hn::Lanes(d));
  const int64_t cols = std::max<int64_t>(L, per_tile(k) / L * L);
  for (int64_t c0 = 0; c0 < n; c0 += cols) {
    const int64_t c1 = std::min(n, c0 + cols);
    for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
      const int64_t nr = std::min(kRows, rows - r0);
      for (int64_t c = c0; c < c1; c += L) {
        const int64_t nc = std::min(L, c1 - c);  // < L only in the last chunk
        hn::Vec<DF> acc[kRows];
        for (auto& a : acc) a = hn::Zero(d);
        for (int64_t i = 0; i < k; ++i) {
          const float* wi = w + i * n + c;
          const auto wv = nc == L ? hn::LoadU(d, wi) : load_tail(wi, size_t(nc));
          for (int64_t r = 0; r < nr; ++r)
            acc[r] = hn::MulAdd(hn::Set(d, x[(r0 + r) * k + i]), wv, acc[r]);
        }
        for (int64_t r = 0; r < nr; ++r) {
          float* yr = y + (r0 + r) * n + c;
          if (nc == L) {
            hn::StoreU(acc[r], d, yr);
          } else {
            float buf[kMaxLanes];
            hn::StoreU(acc[r], d, buf);
            std::memcpy(yr, buf, size_t(nc) * sizeof(float));
          }
        }
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace pagedkv
HWY_AFTER_NAMESPACE();

namespace pagedkv {

void Linear::forward(const float* x, int64_t rows, float* y) const {
  if (rows == 0) return;
  HWY_STATIC_DISPATCH(matmul_nt)(x, rows, in, weight.data(), out, y);
  if (!bias.empty())
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) y[r * out + o] += bias[o];
}

void matmul_kn(const float* x, int64_t rows, int64_t k, const float* w, int64_t n, float* y) {
  if (rows == 0) return;
  HWY_STATIC_DISPATCH(matmul_kn)(x, rows, k, w, n, y);
}

}  // namespace pagedkv
