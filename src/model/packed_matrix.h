#pragma once
// PackedMatrix: a weight matrix W [n, k] (n outputs, k inputs; nn.Linear's [out, in]) laid out
// for the CPU dense kernel (linear.h) and kept in its checkpoint's precision: f32, or bf16 (half
// the memory and half the bytes each decode step streams; widened to f32 in registers).
//
// Layout: panels of kPanel = 64 output columns, each panel [k, 64] (input-major), panels one after
// another, the last one zero-padded: [ceil(n / 64), k, 64]. The kernel walks a panel's rows in
// order of k, so every output element is one FMA chain over k in index order — the same for any
// batch size, thread count or vector width (AVX2 / AVX-512), which keeps a row's logits
// independent of the rows beside it. Packing costs one pass at load; the memory is the
// checkpoint's (n * k elements, plus < 64 * k of padding).

#include <cstdint>
#include <memory>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/dtype.h"

namespace pagedkv {

class PackedMatrix {
 public:
  static constexpr int64_t kPanel = 64;

  PackedMatrix() = default;
  // W given row-major [n, k] (nn.Linear layout) as f32, or as bf16 bits (kept bf16).
  static PackedMatrix from_f32(const float* w, int64_t n, int64_t k);
  static PackedMatrix from_bf16(const uint16_t* w, int64_t n, int64_t k);
  // W given input-major [k, n] (Llama 4's experts), as f32.
  static PackedMatrix from_f32_kn(const float* w, int64_t k, int64_t n);

  DType dtype() const { return dtype_; }
  int64_t rows() const { return n_; }  // outputs
  int64_t cols() const { return k_; }  // inputs
  int64_t num_panels() const { return (n_ + kPanel - 1) / kPanel; }
  size_t bytes() const { return data_.bytes(); }
  // Panel p: [k, 64] elements of dtype().
  const void* panel(int64_t p) const {
    return static_cast<const char*>(data_.data()) + size_t(p * k_ * kPanel) * dtype_size(dtype_);
  }

  float at(int64_t o, int64_t i) const;  // W[o, i]
  // out [k] = W[o, :] (embedding lookup of a tied embedding matrix).
  void row(int64_t o, float* out) const;

 private:
  PackedMatrix(DType dtype, int64_t n, int64_t k);

  DType dtype_ = DType::kF32;
  int64_t n_ = 0, k_ = 0;
  AlignedBuffer data_;  // [num_panels, k, 64] of dtype_
};

// Shared so a tied lm_head and the embedding are one copy.
using SharedMatrix = std::shared_ptr<const PackedMatrix>;

}  // namespace pagedkv
