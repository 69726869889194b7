#include "core/dtype.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  EXPECT_EQ(dtype_size(DType::kFP8E4M3), 1u);
  EXPECT_EQ(parse_dtype("BF16"), DType::kBF16);
  EXPECT_EQ(parse_dtype(dtype_name(DType::kF16)), DType::kF16);
  EXPECT_THROW(parse_dtype("int4"), Error);
}

TEST(DType, F16KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                      // rounds up to inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);         // smallest subnormal
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie rounds to even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_FLOAT_EQ(f16_to_f32(0x3555), 0.333251953125f);
}

TEST(DType, BF16KnownValues) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f808000u)), 0x3f80);  // tie to even (down)
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f818000u)), 0x3f82);  // tie to even (up)
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

TEST(DType, Fp8KnownValues) {
  EXPECT_EQ(f32_to_fp8e4m3(1.0f), 0x38);
  EXPECT_EQ(f32_to_fp8e4m3(448.0f), 0x7e);
  EXPECT_EQ(f32_to_fp8e4m3(1e6f), 0x7e);                   // saturates
  EXPECT_EQ(f32_to_fp8e4m3(-std::ldexp(1.0f, -9)), 0x81);  // smallest subnormal
  EXPECT_FLOAT_EQ(fp8e4m3_to_f32(0x7e), 448.0f);
  EXPECT_FLOAT_EQ(fp8e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
}

// Every 16-bit / 8-bit pattern that is a finite number survives a round trip exactly.
TEST(DType, RoundTripsAllPatterns) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f16 = f16_to_f32(uint16_t(h));
    if (std::isfinite(f16)) {
      ASSERT_EQ(f32_to_f16(f16), h) << std::hex << h;
    }
    const float b16 = bf16_to_f32(uint16_t(h));
    if (std::isfinite(b16)) {
      ASSERT_EQ(f32_to_bf16(b16), h) << std::hex << h;
    }
  }
  for (uint32_t v = 0; v < 0x100; ++v) {
    const float f = fp8e4m3_to_f32(uint8_t(v));
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_fp8e4m3(f), v) << std::hex << v;
    }
  }
}

// Rounding is to the nearest representable value: the error is at most half a step.
TEST(DType, RoundingIsNearest) {
  Rng rng(seed_from_env(7));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (int i = 0; i < 100000; ++i) {
    const float x = rng.normal(0.f, 100.f);
    for (DType t : {DType::kF16, DType::kBF16, DType::kFP8E4M3}) {
      const float r = round_through(t, x);
      const int mant_bits = t == DType::kF16 ? 10 : t == DType::kBF16 ? 7 : 3;
      const int min_exp = t == DType::kF16 ? -14 : t == DType::kBF16 ? -126 : -6;
      int e;
      std::frexp(x, &e);
      e = std::max(e, min_exp + 1);  // subnormals share the step of the smallest exponent
      const float half_step = std::ldexp(1.0f, e - 1 - mant_bits - 1);
      if (t == DType::kFP8E4M3 && std::fabs(x) >= 448.f) continue;
      ASSERT_LE(std::fabs(r - x), half_step * 1.0001f + 1e-7f) << x << " " << dtype_name(t);
    }
  }
}

}  // namespace
}  // namespace pagedkv
