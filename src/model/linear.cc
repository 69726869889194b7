#include "model/linear.h"

#include <cblas.h>

namespace pagedkv {

void Linear::forward(const float* x, int64_t rows, float* y) const {
  if (rows == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(out), int(in), 1.0f, x,
              int(in), weight.data(), int(in), 0.0f, y, int(out));
  if (!bias.empty())
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) y[r * out + o] += bias[o];
}

void matmul_kn(const float* x, int64_t rows, int64_t k, const float* w, int64_t n, float* y) {
  if (rows == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(n), int(k), 1.0f, x, int(k),
              w, int(n), 0.0f, y, int(n));
}

}  // namespace pagedkv
