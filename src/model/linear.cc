// Dense layers with Highway, dynamic dispatch: this file is compiled once per SIMD target
// (foreach_target; CMake builds it without -march=native) and the best target of the CPU the
// binary runs on is picked at the first call.
//
// Why not BLAS: a sequence's logits must not depend on which other sequences share its batch
// (paged_model_test: a batch of different lengths gives each sequence the bits it gets alone).
// OpenBLAS picks kernels by the matrix shape, so row r of an sgemm with M = 3 need not equal the
// same row computed with M = 1. Here every output element is one FMA chain over k in index order
// (y = fma(x[k-1], w[k-1], ... fma(x[0], w[0], 0))), each SIMD lane one output column: the
// result is the same whatever the row count, the tile a row falls in, the thread that computes
// it or the vector width (AVX2 and AVX-512 give the same bits).
//
// Cost: a micro-kernel of R rows x V vectors of columns keeps R*V accumulators in registers; per
// step of k it loads V weight vectors (bf16 widened in registers: a zero-extend and a shift),
// broadcasts R activations and issues R*V FMAs. AVX-512: R = 6, V = 4 (24 accumulators). Decode
// (1 row) streams the weights once — memory-bound, bf16 halves it. Threads split the work by
// 64-column panels (and by row blocks when there are few panels): any split gives the same bits.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "model/linear.cc"
#include "model/linear.h"

#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstring>

HWY_BEFORE_NAMESPACE();
namespace pagedkv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
constexpr int64_t kP = PackedMatrix::kPanel;
// 32 vector registers (AVX-512) hold 6 x 4 accumulators; 16 (AVX2, SSE4) hold 4 x 2.
constexpr int kR = HWY_MAX_BYTES >= 64 ? 6 : 4;
constexpr int kV = HWY_MAX_BYTES >= 64 ? 4 : 2;

template <bool kBf16>
HWY_INLINE hn::Vec<DF> load_w(const void* p, size_t off) {
  const DF d;
  if constexpr (kBf16) {
    const hn::RebindToUnsigned<DF> du32;
    const hn::Rebind<uint16_t, DF> du16;
    const auto u = hn::PromoteTo(du32, hn::LoadU(du16, static_cast<const uint16_t*>(p) + off));
    return hn::BitCast(d, hn::ShiftLeft<16>(u));
  } else {
    return hn::LoadU(d, static_cast<const float*>(p) + off);
  }
}

// y[r, c0 + j] for rows [0, R) of x (row stride k) and columns c0 .. c0 + V * N of the panel;
// `width` of them are real (the rest are padding of the last panel or past this chunk).
template <int R, bool kBf16>
HWY_INLINE void tile(const float* HWY_RESTRICT x, int64_t k, const void* HWY_RESTRICT panel,
                     int64_t c0, float* HWY_RESTRICT y, int64_t ldy, int64_t width) {
  const DF d;
  constexpr int64_t N = int64_t(hn::MaxLanes(d));
  hn::Vec<DF> acc[R][kV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < kV; ++v) acc[r][v] = hn::Zero(d);
  for (int64_t i = 0; i < k; ++i) {
    hn::Vec<DF> w[kV];
    for (int v = 0; v < kV; ++v) w[v] = load_w<kBf16>(panel, size_t(i * kP + c0 + v * N));
    for (int r = 0; r < R; ++r) {
      const auto xr = hn::Set(d, x[r * k + i]);
      for (int v = 0; v < kV; ++v) acc[r][v] = hn::MulAdd(xr, w[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < kV; ++v) {
      const int64_t col = v * N;
      float* out = y + r * ldy + c0 + col;
      if (col + N <= width) {
        hn::StoreU(acc[r][v], d, out);
      } else if (col < width) {
        HWY_ALIGN float buf[N];
        hn::Store(acc[r][v], d, buf);
        std::memcpy(out, buf, size_t(width - col) * sizeof(float));
      }
    }
}

template <bool kBf16>
void panel_rows(const float* x, int64_t k, const void* panel, float* y, int64_t ldy, int64_t rows,
                int64_t width) {
  const DF d;
  constexpr int64_t chunk = kV * int64_t(hn::MaxLanes(d));  // columns per tile
  for (int64_t c0 = 0; c0 < std::min(width, kP); c0 += chunk) {
    const int64_t w = width - c0;  // real columns from c0 on (tile stores at most `chunk`)
    int64_t r = 0;
    for (; r + kR <= rows; r += kR) tile<kR, kBf16>(x + r * k, k, panel, c0, y + r * ldy, ldy, w);
    switch (rows - r) {  // the last rows: smaller tiles, the same chain per element
      case 5:
        if constexpr (kR > 5) tile<5, kBf16>(x + r * k, k, panel, c0, y + r * ldy, ldy, w);
        break;
      case 4:
        if constexpr (kR > 4) tile<4, kBf16>(x + r * k, k, panel, c0, y + r * ldy, ldy, w);
        break;
      case 3:
        tile<3, kBf16>(x + r * k, k, panel, c0, y + r * ldy, ldy, w);
        break;
      case 2:
        tile<2, kBf16>(x + r * k, k, panel, c0, y + r * ldy, ldy, w);
        break;
      case 1:
        tile<1, kBf16>(x + r * k, k, panel, c0, y + r * ldy, ldy, w);
        break;
      default:
        break;
    }
  }
}

// Rows [r0, r1) x panels [p0, p1) of y [rows, n] = x · W^T.
void matmul_block(const float* x, int64_t k, const PackedMatrix* w, float* y, int64_t p0,
                  int64_t p1, int64_t r0, int64_t r1) {
  const int64_t n = w->rows();
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t width = std::min(kP, n - p * kP);
    float* yp = y + r0 * n + p * kP;
    if (w->dtype() == DType::kBF16) {
      panel_rows<true>(x + r0 * k, k, w->panel(p), yp, n, r1 - r0, width);
    } else {
      panel_rows<false>(x + r0 * k, k, w->panel(p), yp, n, r1 - r0, width);
    }
  }
}

const char* target_name() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace pagedkv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include "core/error.h"
#include "core/thread_pool.h"

namespace pagedkv {

HWY_EXPORT(matmul_block);
HWY_EXPORT(target_name);

Linear Linear::from_f32(const std::vector<float>& w, int64_t out, int64_t in,
                        std::vector<float> bias) {
  PKV_CHECK(int64_t(w.size()) == out * in, InvalidArgument, "Linear: ", w.size(), " weights for [",
            out, ", ", in, "]");
  return {in, out, std::make_shared<PackedMatrix>(PackedMatrix::from_f32(w.data(), out, in)),
          std::move(bias)};
}

Linear Linear::from_bf16(const std::vector<uint16_t>& w, int64_t out, int64_t in,
                         std::vector<float> bias) {
  PKV_CHECK(int64_t(w.size()) == out * in, InvalidArgument, "Linear: ", w.size(), " weights for [",
            out, ", ", in, "]");
  return {in, out, std::make_shared<PackedMatrix>(PackedMatrix::from_bf16(w.data(), out, in)),
          std::move(bias)};
}

void matmul(const float* x, int64_t rows, const PackedMatrix& w, float* y) {
  if (rows == 0) return;
  const int64_t k = w.cols(), panels = w.num_panels();
  ThreadPool& pool = ThreadPool::global();
  const int64_t threads = int64_t(pool.num_threads());
  // Items of one or more panels x a block of rows: enough items to balance the threads, each
  // large enough (>= ~64k FMAs) that the hand-off does not dominate.
  const int64_t row_block = rows <= 64 ? rows : 48;
  const int64_t row_blocks = (rows + row_block - 1) / row_block;
  const int64_t work = rows * k * PackedMatrix::kPanel;  // FMAs per panel
  int64_t per_item = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, work));
  per_item = std::min(per_item, std::max<int64_t>(1, panels / (4 * threads)));
  const int64_t panel_items = (panels + per_item - 1) / per_item;
  const int64_t items = panel_items * row_blocks;
  auto run = [&](size_t item) {
    const int64_t pi = int64_t(item) / row_blocks, rb = int64_t(item) % row_blocks;
    const int64_t p0 = pi * per_item, p1 = std::min(panels, p0 + per_item);
    const int64_t r0 = rb * row_block, r1 = std::min(rows, r0 + row_block);
    HWY_DYNAMIC_DISPATCH(matmul_block)(x, k, &w, y, p0, p1, r0, r1);
  };
  if (threads == 1 || items == 1 || rows * k * w.rows() < (int64_t(1) << 15)) {
    for (int64_t i = 0; i < items; ++i) run(size_t(i));
  } else {
    pool.parallel_for(size_t(items), run);
  }
}

void Linear::forward(const float* x, int64_t rows, float* y) const {
  if (rows == 0) return;
  matmul(x, rows, *weight, y);
  if (!bias.empty())
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) y[r * out + o] += bias[o];
}

const char* linear_simd_target() { return HWY_DYNAMIC_DISPATCH(target_name)(); }

}  // namespace pagedkv

#endif  // HWY_ONCE
