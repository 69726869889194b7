// Dense layers against a float64 reference on odd sizes (vector tails, partial row groups), and
// the property the batched model relies on: a row's bits do not depend on the other rows.

#include "model/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

std::vector<float> random_vec(Rng& rng, size_t n) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.normal();
  return v;
}

// Max |got - want| / (max |want| + 1e-6) over all elements.
double max_rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double err = 0, scale = 1e-6;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::abs(double(got[i]) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / scale;
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
        EXPECT_LE(max_rel_error(y, ref), 1e-5);
        for (int64_t r = 0; r < rows; ++r) {  // the same row alone: the same bits
          std::vector<float> alone(static_cast<size_t>(out));
          lin.forward(x.data() + r * in, 1, alone.data());
          EXPECT_EQ(0, std::memcmp(alone.data(), y.data() + r * out, alone.size() * 4)) << r;
        }
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
        EXPECT_LE(max_rel_error(y, ref), 1e-5);
        for (int64_t r = 0; r < rows; ++r) {
          std::vector<float> alone(static_cast<size_t>(n));
          matmul_kn(x.data() + r * k, 1, k, w.data(), n, alone.data());
          EXPECT_EQ(0, std::memcmp(alone.data(), y.data() + r * n, alone.size() * 4)) << r;
        }
      }
}

}  // namespace
}  // namespace pagedkv
