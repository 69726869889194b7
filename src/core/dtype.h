#pragma once
// Element types of activations, weights and the KV pool, with scalar conversions.
// Conversions round to nearest even (the rounding torch uses), so a value stored here equals the
// value torch would store; that keeps the f64 reference and HF fixtures comparable bit for bit.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace pagedkv {

enum class DType : uint8_t { kF32, kF16, kBF16, kFP8E4M3 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);           // "f32", "f16", "bf16", "fp8_e4m3"
DType parse_dtype(std::string_view name);  // accepts our names and safetensors' ("BF16", ...)

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// bf16: the top half of an f32.
inline float bf16_to_f32(uint16_t h) { return f32_from_bits(uint32_t(h) << 16); }
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                         // round to nearest even
  return uint16_t(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// fp8 e4m3 ("fn" variant, as in torch.float8_e4m3fn): no infinities, max finite 448, saturating.
float fp8e4m3_to_f32(uint8_t v);
uint8_t f32_to_fp8e4m3(float f);

// Load element i of a buffer of dtype t as f32 / store f32 into it (scalar paths, tests, setup).
float load_as_f32(const void* base, DType t, size_t i);
void store_from_f32(void* base, DType t, size_t i, float value);
// Round an f32 through dtype t and back (what a value becomes once stored).
float round_through(DType t, float value);

}  // namespace pagedkv
