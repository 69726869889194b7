#pragma once
// fp8 e4m3 -> f16 by moving bits, for the tensor-core kernel's fp8 path (paged_decode_mma.cuh);
// plain constexpr integer code so that fp8_bits_test.cc checks it on the host, every byte value.

#include <cstdint>

#if defined(__CUDACC__)
#define PKV_HOST_DEVICE __host__ __device__
#else
#define PKV_HOST_DEVICE
#endif

namespace pagedkv::cuda_detail {

// Two e4m3 values, each in the high byte of a 16-bit half of x, as f16 values 2^-8 times theirs:
// e4m3 s.eeee.mmm moved to f16 s.0eeee.mmm0000000 keeps the bits and rebiases the exponent from
// 7 to 15 (subnormals too: 2^-6 m/8 -> 2^-14 m/8). A shift and masks (with the byte permute that
// places the bytes, 4 integer instructions per pair in SASS) instead of the conversion unit's
// lower-rate cvt plus byte extraction; the kernel folds the 2^8 into the k scale and the final O.
// An e4m3 NaN (s.1111.111) comes out finite, +-480 * 2^-8: the kernel reads only visible slots,
// so a pool must not hold NaN there (the CPU reference would give NaN).
PKV_HOST_DEVICE constexpr uint32_t e4m3x2_to_f16x2_scaled(uint32_t x) {
  return ((x >> 1) & 0x3f803f80u) | (x & 0x80008000u);
}
constexpr float kFp8Unscale = 256.f;  // 2^8: the factor e4m3x2_to_f16x2_scaled drops

// Byte-permute selectors (__byte_perm(w, 0, sel); selector nibble i names result byte i: 0-3 the
// bytes of w, 4 a zero byte) that place fp8 bytes high in each 16-bit half:
// K: w = 4 consecutive dims d0..d3 of one token -> (d0, d1) and (d2, d3).
constexpr uint32_t kPermLoPair = 0x1404;  // bytes 0, 1
constexpr uint32_t kPermHiPair = 0x3424;  // bytes 2, 3
// V (ldmatrix.trans of byte pairs): w = (t0: d, d+1 | t1: d, d+1) -> (t0, t1) of dim d, of d+1.
constexpr uint32_t kPermEvenBytes = 0x2404;  // bytes 0, 2
constexpr uint32_t kPermOddBytes = 0x3414;   // bytes 1, 3

}  // namespace pagedkv::cuda_detail
