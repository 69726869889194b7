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
        const std::vector<float> w = random_vec(rng, size_t(in * out));
        const Linear lin = Linear::from_f32(
            w, out, in, out % 2 == 1 ? random_vec(rng, size_t(out)) : std::vector<float>{});
        const std::vector<float> x = random_vec(rng, size_t(rows * in));
        std::vector<float> y(size_t(rows * out), NAN);
        lin.forward(x.data(), rows, y.data());
        std::vector<double> ref(y.size());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t o = 0; o < out; ++o) {
            double s = lin.bias.empty() ? 0.0 : lin.bias[o];
            for (int64_t k = 0; k < in; ++k) s += double(x[r * in + k]) * w[o * in + k];
            ref[r * out + o] = s;
          }
        expect_exact_rows(y, ref, rows, out,
                          [&](int64_t r, float* row) { lin.forward(x.data() + r * in, 1, row); });
      }
}

// bf16 weights widened in the kernel give exactly what the same weights widened at load give
// (f32 panels): the bf16 path changes memory, not values.
TEST(Linear, Bf16WeightsEqualTheirF32WideningBitForBit) {
  Rng rng(seed_from_env(7150));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (int64_t in : {5, 64, 130})
    for (int64_t out : {3, 64, 150})
      for (int64_t rows : {1, 7, 13}) {
        SCOPED_TRACE(str_cat("in=", in, " out=", out, " rows=", rows));
        std::vector<uint16_t> wb(size_t(in * out));
        std::vector<float> wf(wb.size());
        for (size_t i = 0; i < wb.size(); ++i) {
          wb[i] = f32_to_bf16(rng.normal());
          wf[i] = bf16_to_f32(wb[i]);
        }
        const Linear a = Linear::from_bf16(wb, out, in), b = Linear::from_f32(wf, out, in);
        const std::vector<float> x = random_vec(rng, size_t(rows * in));
        std::vector<float> ya(size_t(rows * out)), yb(ya.size());
        a.forward(x.data(), rows, ya.data());
        b.forward(x.data(), rows, yb.data());
        EXPECT_EQ(0, std::memcmp(ya.data(), yb.data(), ya.size() * sizeof(float)));
        EXPECT_EQ(a.weight->bytes() * 2, b.weight->bytes());
      }
}

// Every output element is one FMA chain over k in index order, whatever thread, tile or vector
// width computed it: so the thread count and the batch never change a bit.
TEST(Linear, EveryElementIsOneFmaChainOverK) {
  if (std::string(linear_simd_target()).starts_with("SSE")) GTEST_SKIP() << "no FMA on this CPU";
  Rng rng(seed_from_env(7160));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const int64_t in = 300, out = 1000, rows = 50;
  const Linear lin = Linear::from_f32(random_vec(rng, size_t(in * out)), out, in);
  const std::vector<float> x = random_vec(rng, size_t(rows * in));
  std::vector<float> y(size_t(rows * out));
  lin.forward(x.data(), rows, y.data());  // the global pool (all cores)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; o += 97) {
      float s = 0.0f;  // one FMA chain over k in order: what every lane computes
      for (int64_t k = 0; k < in; ++k) s = std::fma(x[r * in + k], lin.weight->at(o, k), s);
      ASSERT_EQ(s, y[r * out + o]) << "row " << r << " col " << o;
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
        const PackedMatrix m = PackedMatrix::from_f32_kn(w.data(), k, n);
        matmul(x.data(), rows, m, y.data());
        std::vector<double> ref(y.size(), 0.0);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < n; ++c)
            for (int64_t i = 0; i < k; ++i) ref[r * n + c] += double(x[r * k + i]) * w[i * n + c];
        expect_exact_rows(y, ref, rows, n,
                          [&](int64_t r, float* row) { matmul(x.data() + r * k, 1, m, row); });
      }
}

}  // namespace
}  // namespace pagedkv
