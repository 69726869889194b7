#include "model/packed_matrix.h"

#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"

namespace pagedkv {

namespace {

// Packs element (o, i) = get(o, i) of an [n, k] matrix into panels of T (zero padding included).
// Panels are independent: packed on all threads (a 1B model's weights in well under a second).
template <typename T, typename Get>
void pack(T* dst, int64_t n, int64_t k, Get get) {
  constexpr int64_t P = PackedMatrix::kPanel;
  const int64_t panels = (n + P - 1) / P;
  auto one = [&](size_t pi) {
    const int64_t p = int64_t(pi);
    T* panel = dst + p * k * P;
    const int64_t width = std::min(P, n - p * P);
    for (int64_t i = 0; i < k; ++i) {
      T* row = panel + i * P;
      for (int64_t c = 0; c < width; ++c) row[c] = get(p * P + c, i);
      for (int64_t c = width; c < P; ++c) row[c] = T(0);
    }
  };
  if (panels > 1 && n * k >= (int64_t(1) << 16)) {
    ThreadPool::global().parallel_for(size_t(panels), one);
  } else {
    for (int64_t p = 0; p < panels; ++p) one(size_t(p));
  }
}

}  // namespace

PackedMatrix::PackedMatrix(DType dtype, int64_t n, int64_t k)
    : dtype_(dtype),
      n_(n),
      k_(k),
      data_(size_t(std::max<int64_t>(1, (n + kPanel - 1) / kPanel * k * kPanel)) *
            dtype_size(dtype)) {
  PKV_CHECK(n > 0 && k > 0, InvalidArgument, "PackedMatrix: empty matrix [", n, ", ", k, "]");
}

PackedMatrix PackedMatrix::from_f32(const float* w, int64_t n, int64_t k) {
  PackedMatrix m(DType::kF32, n, k);
  // Tiled over rows of W so both the reads and the panel writes stay in cache.
  pack(m.data_.as<float>(), n, k, [&](int64_t o, int64_t i) { return w[o * k + i]; });
  return m;
}

PackedMatrix PackedMatrix::from_bf16(const uint16_t* w, int64_t n, int64_t k) {
  PackedMatrix m(DType::kBF16, n, k);
  pack(m.data_.as<uint16_t>(), n, k, [&](int64_t o, int64_t i) { return w[o * k + i]; });
  return m;
}

PackedMatrix PackedMatrix::from_f32_kn(const float* w, int64_t k, int64_t n) {
  PackedMatrix m(DType::kF32, n, k);
  pack(m.data_.as<float>(), n, k, [&](int64_t o, int64_t i) { return w[i * n + o]; });
  return m;
}

float PackedMatrix::at(int64_t o, int64_t i) const {
  const size_t idx = size_t(((o / kPanel) * k_ + i) * kPanel + o % kPanel);
  return dtype_ == DType::kF32 ? data_.as<float>()[idx] : bf16_to_f32(data_.as<uint16_t>()[idx]);
}

void PackedMatrix::row(int64_t o, float* out) const {
  const size_t base = size_t((o / kPanel) * k_ * kPanel + o % kPanel);
  if (dtype_ == DType::kF32) {
    const float* p = data_.as<float>() + base;
    for (int64_t i = 0; i < k_; ++i) out[i] = p[i * kPanel];
  } else {
    const uint16_t* p = data_.as<uint16_t>() + base;
    for (int64_t i = 0; i < k_; ++i) out[i] = bf16_to_f32(p[i * kPanel]);
  }
}

}  // namespace pagedkv
