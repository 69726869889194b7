#pragma once
// The tensor-core kernel's instructions and fragment layouts: mma.m16n8k16 per operand type,
// ldmatrix, the swizzles of rows in shared memory, fp8 byte pairs as f16 operands, and which output
// dim an accumulator holds.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "attention/cuda/fp8_bits.h"

namespace pagedkv::cuda_detail {

template <typename T>
struct MmaType;
template <>
struct MmaType<__nv_bfloat16> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
  }
  static __device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                             uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};
template <>
struct MmaType<__half> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    const __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
  }
  static __device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                             uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// ldmatrix from a shared-window address (a register plus an immediate folds into the operand).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t s) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t s) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

// Byte offset of 16-byte chunk `ch` of token row `tok` in a swizzled 16-bit tile.
template <int RowBytes>
__device__ __forceinline__ int swz(int tok, int ch) {
  return tok * RowBytes + ((ch ^ (tok & 7)) << 4);
}

// fp8 rows (D bytes, D / 16 chunks of 16 bytes) as stored in the ring. V rows are read by
// ldmatrix.trans over 8 consecutive tokens of one chunk: chunk XOR token & 7 (with 4 chunks per
// row, two rows per 128 bytes: XOR (token / 2) & 3) puts the 8 rows in 8 bank groups. K rows are
// read by the fragment loads, lanes over tokens 2p, 2p+1 and chunks c..c+3: chunk XOR 4 on odd
// tokens puts the two rows in different halves of the banks.
template <int Chunks>
__device__ __forceinline__ int fp8_vchunk(int tok, int ch) {
  return Chunks >= 8 ? ch ^ (tok & 7) : ch ^ ((tok >> 1) & 3);
}
template <int Chunks>
__device__ __forceinline__ int fp8_kchunk(int tok, int ch) {
  return Chunks >= 8 ? ch ^ ((tok & 1) << 2) : ch;
}

// 2^x by one MUFU.EX2 (exp2f adds a range fix-up of 3 instructions around it). Flushes results
// below 2^-126 to 0, which a softmax weight relative to the running max can afford; 2^-inf = 0.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// Two fp8 bytes of w (picked by a kPerm* selector) as an f16x2 mma operand, 2^-8 scaled.
__device__ __forceinline__ uint32_t fp8_pair(uint32_t w, uint32_t sel) {
  return e4m3x2_to_f16x2_scaled(__byte_perm(w, 0u, sel));
}

// Output dim of accumulator o[nt][e] (e = 0, 1) in lane group q4 = lane % 4: with 16-bit KV the
// mma layout, 8 nt + 2 q4 + e; with fp8 KV the V fragments are byte pairs, so n-tiles 2j and
// 2j+1 hold the even and odd dims of dims 16j..16j+15: 16 (nt / 2) + 4 q4 + 2 e + nt % 2.
template <bool kFp8>
__device__ __forceinline__ int out_dim(int nt, int e, int q4) {
  return kFp8 ? 16 * (nt / 2) + 4 * q4 + 2 * e + nt % 2 : 8 * nt + 2 * q4 + e;
}

}  // namespace pagedkv::cuda_detail
