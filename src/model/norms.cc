#include "model/norms.h"

#include <cmath>
#include <cstring>

namespace pagedkv {

void rms_norm_to(const float* x, float* out, int64_t rows, int64_t dim, const float* weight,
                 NormWeight mode, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* o = out + r * dim;
    // Mean of squares accumulated in double: closer to torch's pairwise f32 sum than a naive f32
    // loop.
    double ss = 0.0;
    for (int64_t i = 0; i < dim; ++i) ss += double(xr[i]) * xr[i];
    const float inv = 1.0f / std::sqrt(float(ss / double(dim)) + eps);
    for (int64_t i = 0; i < dim; ++i) {
      const float n = xr[i] * inv;
      switch (mode) {
        case NormWeight::kPlain:
          o[i] = weight[i] * n;
          break;
        case NormWeight::kOnePlus:
          o[i] = n * (1.0f + weight[i]);
          break;
        case NormWeight::kNone:
          o[i] = n;
          break;
      }
    }
  }
}

void rms_norm(float* x, int64_t rows, int64_t dim, const float* weight, NormWeight mode,
              float eps) {
  rms_norm_to(x, x, rows, dim, weight, mode,
              eps);  // element-wise after the row's sum: safe in place
}

}  // namespace pagedkv
