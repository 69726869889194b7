#include "core/dtype.h"

#include <cmath>

#include "core/error.h"

namespace pagedkv {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
    case DType::kFP8E4M3:
      return 1;
  }
  fail(ErrorKind::kInvalidArgument, str_cat("unknown dtype ", int(t)));
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
    case DType::kFP8E4M3:
      return "fp8_e4m3";
  }
  return "unknown";
}

DType parse_dtype(std::string_view n) {
  if (n == "f32" || n == "F32" || n == "float32") return DType::kF32;
  if (n == "f16" || n == "F16" || n == "float16") return DType::kF16;
  if (n == "bf16" || n == "BF16" || n == "bfloat16") return DType::kBF16;
  if (n == "fp8_e4m3" || n == "F8_E4M3" || n == "float8_e4m3fn") return DType::kFP8E4M3;
  fail(ErrorKind::kInvalidArgument, str_cat("unknown dtype '", n, "'"));
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: man * 2^-24
    float f = std::ldexp(float(man), -24);
    return sign ? -f : f;
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (man << 13));  // inf / NaN
  return f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t f32_to_f16(float f) {
  const uint32_t u = f32_bits(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65536: inf
  if (abs < 0x38800000u) {                        // below 2^-14: subnormal or zero
    // value / 2^-24 rounded to nearest even; nearbyint uses the current (nearest-even) mode.
    const float scaled = std::ldexp(f32_from_bits(abs), 24);
    return sign | uint16_t(std::nearbyint(scaled));
  }
  uint32_t r = abs + 0xfffu + ((abs >> 13) & 1u);  // round mantissa to 10 bits, nearest even
  return sign | uint16_t((r - (112u << 23)) >> 13);
}

float fp8e4m3_to_f32(uint8_t v) {
  const bool neg = v & 0x80u;
  const uint32_t exp = (v >> 3) & 0xfu;
  const uint32_t man = v & 0x7u;
  float f;
  if (exp == 15 && man == 7) return std::nanf("");
  if (exp == 0)
    f = std::ldexp(float(man), -9);  // subnormal: man/8 * 2^-6
  else
    f = std::ldexp(1.0f + float(man) / 8.0f, int(exp) - 7);
  return neg ? -f : f;
}

uint8_t f32_to_fp8e4m3(float f) {
  if (std::isnan(f)) return 0x7f;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7e;  // saturate to max finite
  // Pick the exponent, then round the mantissa to 3 bits (nearest even) on that grid.
  int e;
  std::frexp(a, &e);     // a = m * 2^e, m in [0.5, 1)
  int exp = e - 1 + 7;   // biased exponent of a
  if (exp < 1) exp = 1;  // subnormal range shares the grid of exponent 1
  const float step = std::ldexp(1.0f, exp - 7 - 3);
  float q = std::nearbyint(a / step) * step;
  if (q >= 448.0f) return sign | 0x7e;
  if (q == 0.0f) return sign;
  std::frexp(q, &e);
  int qexp = e - 1 + 7;
  if (qexp < 1) return sign | uint8_t(q / std::ldexp(1.0f, -9));  // subnormal
  const uint8_t man = uint8_t(std::lround((q / std::ldexp(1.0f, qexp - 7) - 1.0f) * 8.0f));
  return sign | uint8_t(qexp << 3) | man;
}

float load_as_f32(const void* base, DType t, size_t i) {
  switch (t) {
    case DType::kF32:
      return static_cast<const float*>(base)[i];
    case DType::kF16:
      return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::kBF16:
      return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::kFP8E4M3:
      return fp8e4m3_to_f32(static_cast<const uint8_t*>(base)[i]);
  }
  fail(ErrorKind::kInvalidArgument, "load_as_f32: unknown dtype");
}

void store_from_f32(void* base, DType t, size_t i, float value) {
  switch (t) {
    case DType::kF32:
      static_cast<float*>(base)[i] = value;
      return;
    case DType::kF16:
      static_cast<uint16_t*>(base)[i] = f32_to_f16(value);
      return;
    case DType::kBF16:
      static_cast<uint16_t*>(base)[i] = f32_to_bf16(value);
      return;
    case DType::kFP8E4M3:
      static_cast<uint8_t*>(base)[i] = f32_to_fp8e4m3(value);
      return;
  }
  fail(ErrorKind::kInvalidArgument, "store_from_f32: unknown dtype");
}

float round_through(DType t, float value) {
  alignas(4) unsigned char tmp[4];
  store_from_f32(tmp, t, 0, value);
  return load_as_f32(tmp, t, 0);
}

}  // namespace pagedkv
