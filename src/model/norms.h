#pragma once
// RMSNorm variants, all computed in f32 like HF (x * rsqrt(mean(x^2) + eps), then the weight):
//   kPlain   w * x̂        (Llama, Qwen, Llama 4)
//   kOnePlus (1 + w) * x̂  (Gemma 3)
//   kNone    x̂            (Llama 4's weightless qk norm)

#include <cstdint>

namespace pagedkv {

enum class NormWeight { kPlain, kOnePlus, kNone };

// Normalizes each of `rows` rows of width `dim` of x in place. weight [dim] (unused for kNone).
void rms_norm(float* x, int64_t rows, int64_t dim, const float* weight, NormWeight mode, float eps);
// out = norm(x) for rows of x (out may not alias x).
void rms_norm_to(const float* x, float* out, int64_t rows, int64_t dim, const float* weight,
                 NormWeight mode, float eps);

}  // namespace pagedkv
