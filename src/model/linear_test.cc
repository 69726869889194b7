// Dense layers against a float64 reference on odd sizes (vector tails, partial row groups), and
// the property the batched model relies on: a row's bits do not depend on the other rows.

#include "model/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "model/testing/hf_fixture.h"

namespace pagedkv {
namespace {

std::vector<float> random_vec(Rng& rng, size_t n) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.normal();
  return v;
}

// y [rows, width] from one call against the f64 reference `ref` (‖y - ref‖ / ‖ref‖, DESIGN.md's
// f32 bound), and each row recomputed alone by `alone(r, out)`: the same bits.
void expect_exact_rows(const std::vector<float>& y, const std::vector<double>& ref, int64_t rows,
                       int64_t width, const std::function<void(int64_t, float*)>& alone) {
  const std::vector<float> ref32(ref.begin(), ref.end());
  EXPECT_LE(relative_error(y, ref32), 1e-5);
  std::vector<float> row(static_cast<size_t>(width));
  for (int64_t r = 0; r < rows; ++r) {
    alone(r, row.data());
    EXPECT_EQ(0, std::memcmp(row.data(), y.data() + r * width, row.size() * sizeof(float)))
        << "row " << r;
  }
}

TEST(Linear, MatchesFloat64AndEachRowIsBatchIndependent) {
  Rng rng(seed_from_env(7100));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (int64_t in : {1, 7, 16, 33, 100})
    for (int64_t out : {1, 5, 19})
      for (int64_t rows : {1, 3, 9}) {
        SCOPED_TRACE(str_cat("in=", in, " out=", out, " rows=", rows));
        Linear lin;
        lin.in = in;
        lin.out = out;
        lin.weight = random_vec(rng, size_t(in * out));
        if (out % 2 == 1) lin.bias = random_vec(rng, size_t(out));
        const std::vector<float> x = random_vec(rng, size_t(rows * in));
        std::vector<float> y(size_t(rows * out), NAN);
        lin.forward(x.data(), rows, y.data());
        std::vector<double> ref(y.size());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t o = 0; o < out; ++o) {
            double s = lin.bias.empty() ? 0.0 : lin.bias[o];
            for (int64_t k = 0; k < in; ++k) s += double(x[r * in + k]) * lin.weight[o * in + k];
            ref[r * out + o] = s;
          }
        expect_exact_rows(y, ref, rows, out,
                          [&](int64_t r, float* row) { lin.forward(x.data() + r * in, 1, row); });
      }
}

TEST(MatmulKn, MatchesFloat64AndEachRowIsBatchIndependent) {
  Rng rng(seed_from_env(7200));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (int64_t k : {1, 8, 33})
    for (int64_t n : {1, 7, 16, 37})
      for (int64_t rows : {1, 3, 9}) {
        SCOPED_TRACE(str_cat("k=", k, " n=", n, " rows=", rows));
        const std::vector<float> w = random_vec(rng, size_t(k * n));
        const std::vector<float> x = random_vec(rng, size_t(rows * k));
        std::vector<float> y(size_t(rows * n), NAN);
        matmul_kn(x.data(), rows, k, w.data(), n, y.data());
        std::vector<double> ref(y.size(), 0.0);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < n; ++c)
            for (int64_t i = 0; i < k; ++i) ref[r * n + c] += double(x[r * k + i]) * w[i * n + c];
        expect_exact_rows(y, ref, rows, n, [&](int64_t r, float* row) {
          matmul_kn(x.data() + r * k, 1, k, w.data(), n, row);
        });
      }
}

}  // namespace
}  // namespace pagedkv
