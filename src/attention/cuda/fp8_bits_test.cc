// Host checks of the fp8 path's bit moves (fp8_bits.h): every e4m3 byte value against the core
// decoder, and the byte-permute selectors against a host model of __byte_perm. Runs without a
// GPU (CI); the GPU tests check the whole kernel.
#include "attention/cuda/fp8_bits.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "core/dtype.h"

namespace pagedkv::cuda_detail {
namespace {

// __byte_perm(x, y, s) for selectors whose nibbles are 0..7 (PTX prmt, default mode).
uint32_t byte_perm(uint32_t x, uint32_t y, uint32_t s) {
  const uint64_t xy = uint64_t(y) << 32 | x;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r |= uint32_t((xy >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
  return r;
}

float lo_half(uint32_t h2) { return f16_to_f32(uint16_t(h2 & 0xffff)); }
float hi_half(uint32_t h2) { return f16_to_f32(uint16_t(h2 >> 16)); }

TEST(Fp8Bits, EveryE4m3ValueExactlyTimesTwoToTheMinus8) {
  int finite = 0;
  for (int b = 0; b < 256; ++b) {
    const float want = fp8e4m3_to_f32(uint8_t(b));
    const uint32_t h2 = e4m3x2_to_f16x2_scaled(uint32_t(b) << 8 | uint32_t(b ^ 0x80) << 24);
    const float lo = lo_half(h2) * kFp8Unscale, hi = hi_half(h2) * kFp8Unscale;
    if (std::isnan(want)) {  // documented: e4m3 NaN comes out as +-480
      EXPECT_EQ(std::fabs(lo), 480.f) << "byte " << b;
      continue;
    }
    ++finite;
    EXPECT_EQ(lo, want) << "byte " << b;  // exact: same mantissa bits, rebiased exponent
    EXPECT_EQ(hi, fp8e4m3_to_f32(uint8_t(b ^ 0x80))) << "byte " << (b ^ 0x80);
    EXPECT_EQ(std::signbit(lo), std::signbit(want)) << "byte " << b;  // -0 stays -0
  }
  EXPECT_EQ(finite, 254);  // all but the two NaN encodings
}

TEST(Fp8Bits, KSelectorsGiveDimPairsInOrder) {
  // Four consecutive dims d0..d3 of one K row, little-endian in a word.
  const uint8_t d[4] = {0x38, 0xb0, 0x01, 0x7e};  // 1, -0.5, smallest subnormal, 448
  const uint32_t w = d[0] | d[1] << 8 | d[2] << 16 | uint32_t(d[3]) << 24;
  const uint32_t p01 = e4m3x2_to_f16x2_scaled(byte_perm(w, 0, kPermLoPair));
  const uint32_t p23 = e4m3x2_to_f16x2_scaled(byte_perm(w, 0, kPermHiPair));
  EXPECT_EQ(lo_half(p01) * kFp8Unscale, fp8e4m3_to_f32(d[0]));
  EXPECT_EQ(hi_half(p01) * kFp8Unscale, fp8e4m3_to_f32(d[1]));
  EXPECT_EQ(lo_half(p23) * kFp8Unscale, fp8e4m3_to_f32(d[2]));
  EXPECT_EQ(hi_half(p23) * kFp8Unscale, fp8e4m3_to_f32(d[3]));
}

TEST(Fp8Bits, VSelectorsGiveTokenPairsPerDim) {
  // ldmatrix.trans of byte pairs: (t0: dim d, d+1 | t1: dim d, d+1) in one word.
  const uint8_t t0d = 0x40, t0d1 = 0xc4, t1d = 0x22, t1d1 = 0x09;
  const uint32_t w = t0d | t0d1 << 8 | t1d << 16 | uint32_t(t1d1) << 24;
  const uint32_t even = e4m3x2_to_f16x2_scaled(byte_perm(w, 0, kPermEvenBytes));
  const uint32_t odd = e4m3x2_to_f16x2_scaled(byte_perm(w, 0, kPermOddBytes));
  EXPECT_EQ(lo_half(even) * kFp8Unscale, fp8e4m3_to_f32(t0d));  // dim d: tokens t0, t1
  EXPECT_EQ(hi_half(even) * kFp8Unscale, fp8e4m3_to_f32(t1d));
  EXPECT_EQ(lo_half(odd) * kFp8Unscale, fp8e4m3_to_f32(t0d1));  // dim d+1
  EXPECT_EQ(hi_half(odd) * kFp8Unscale, fp8e4m3_to_f32(t1d1));
}

}  // namespace
}  // namespace pagedkv::cuda_detail
