#include "model/rope.h"

#include <cmath>

namespace pagedkv {

namespace {

// HF's _compute_default_rope_parameters: 1 / base^(2i / dim), all in f32.
std::vector<float> default_inv_freq(double theta, int64_t dim) {
  std::vector<float> f(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float exponent = float(2 * i) / float(dim);
    f[i] = 1.0f / std::pow(float(theta), exponent);
  }
  return f;
}

// HF's _compute_llama3_parameters: long wavelengths divided by factor, short ones kept, a smooth
// blend in between.
void apply_llama3_scaling(std::vector<float>& inv_freq, const RopeConfig& c) {
  const float factor = float(c.factor);
  const float low_wavelen = float(c.original_max_positions / c.low_freq_factor);
  const float high_wavelen = float(c.original_max_positions / c.high_freq_factor);
  const float pi2 = float(2.0 * M_PI);
  for (float& f : inv_freq) {
    const float wavelen = pi2 / f;
    float scaled = wavelen > low_wavelen ? f / factor : f;
    const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
    if (medium && c.high_freq_factor != c.low_freq_factor) {
      const float smooth = (float(c.original_max_positions) / wavelen - float(c.low_freq_factor)) /
                           float(c.high_freq_factor - c.low_freq_factor);
      scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
    }
    f = scaled;
  }
}

}  // namespace

Rope::Rope(const RopeConfig& config, int64_t head_dim, RopeStyle style)
    : inv_freq_(default_inv_freq(config.theta, head_dim)), head_dim_(head_dim), style_(style) {
  if (config.type == RopeType::kLinear) {
    for (float& f : inv_freq_) f /= float(config.factor);
  } else if (config.type == RopeType::kFrequencyBands) {
    apply_llama3_scaling(inv_freq_, config);
  }
}

void Rope::apply(float* x, int64_t num_tokens, int64_t num_heads, const int64_t* positions) const {
  const int64_t half = head_dim_ / 2;
  std::vector<float> cos_t(half), sin_t(half);  // [D/2] of this token
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float pos = float(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = pos * inv_freq_[i];
      cos_t[i] = std::cos(angle);
      sin_t[i] = std::sin(angle);
    }
    for (int64_t h = 0; h < num_heads; ++h) {
      float* v = x + (t * num_heads + h) * head_dim_;
      if (style_ == RopeStyle::kRotateHalf) {
        for (int64_t i = 0; i < half; ++i) {
          const float a = v[i], b = v[i + half];
          v[i] = a * cos_t[i] - b * sin_t[i];
          v[i + half] = b * cos_t[i] + a * sin_t[i];
        }
      } else {
        for (int64_t i = 0; i < half; ++i) {
          const float a = v[2 * i], b = v[2 * i + 1];
          v[2 * i] = a * cos_t[i] - b * sin_t[i];
          v[2 * i + 1] = a * sin_t[i] + b * cos_t[i];
        }
      }
    }
  }
}

}  // namespace pagedkv
