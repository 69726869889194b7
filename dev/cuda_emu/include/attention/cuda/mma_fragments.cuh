#pragma once
// EMULATED src/attention/cuda/mma_fragments.cuh (dev/cuda_emu): mma.m16n8k16 and ldmatrix as warp
// collectives computed from the PTX ISA fragment layouts (mma in f64, rounded to f32 once: not
// the tensor cores' summation order), ex2.approx as exp2f; everything without asm is a copy of
// the real header and must follow it.
#include "emu.h"
#include "attention/cuda/fp8_bits.h"
#include "core/dtype.h"

namespace pagedkv::cuda_detail {

// Element of a 16-bit operand register: half h (0 = low = the lower-index element).
inline double emu_elem(uint32_t r, int h, bool bf16) {
  const uint16_t v = uint16_t(h ? r >> 16 : r & 0xffff);
  return bf16 ? double(::pagedkv::bf16_to_f32(v)) : double(::pagedkv::f16_to_f32(v));
}

// mma.m16n8k16.row.col f32: A rows g / g+8, k 2t.. / 2t+8..; B k 2t.., n g; C rows g / g+8, n 2t..
inline void emu_mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool bf16) {
  uint64_t in[7] = {a[0], a[1], a[2], a[3], b0, b1, 0};
  uint64_t cc[4];
  for (int i = 0; i < 4; ++i) { uint32_t u; std::memcpy(&u, &c[i], 4); cc[i] = u; }
  uint64_t all_in[8];
  for (int i = 0; i < 6; ++i) all_in[i] = in[i];
  all_in[6] = cc[0] | (cc[1] << 32);
  all_in[7] = cc[2] | (cc[3] << 32);
  uint64_t out[4];
  emu::collective(bf16 ? 1 : 2, all_in, 8, out, 4, [bf16](uint64_t (*I)[8], uint64_t (*O)[8]) {
    double A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; ++l) {
      const int g = l / 4, t = l % 4;
      for (int r = 0; r < 4; ++r)
        for (int h = 0; h < 2; ++h) {
          const int row = g + 8 * (r & 1), col = 2 * t + h + 8 * (r >> 1);
          A[row][col] = emu_elem(uint32_t(I[l][r]), h, bf16);
        }
      for (int r = 0; r < 2; ++r)
        for (int h = 0; h < 2; ++h) B[2 * t + h + 8 * r][g] = emu_elem(uint32_t(I[l][4 + r]), h, bf16);
      for (int i = 0; i < 4; ++i) {
        const uint32_t u = uint32_t(I[l][6 + i / 2] >> (32 * (i % 2)));
        float f;
        std::memcpy(&f, &u, 4);
        C[g + 8 * (i / 2)][2 * t + i % 2] = f;
      }
    }
    for (int l = 0; l < 32; ++l) {
      const int g = l / 4, t = l % 4;
      for (int i = 0; i < 4; ++i) {
        const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
        double s = 0;
        for (int k = 0; k < 16; ++k) s += A[row][k] * B[k][col];
        const float d = float(double(C[row][col]) + s);
        uint32_t u;
        std::memcpy(&u, &d, 4);
        O[l][i] = u;
      }
    }
  });
  for (int i = 0; i < 4; ++i) { const uint32_t u = uint32_t(out[i]); std::memcpy(&c[i], &u, 4); }
}

template <typename T> struct MmaType;
template <> struct MmaType<__nv_bfloat16> {
  static uint32_t pack(float lo, float hi) {
    return uint32_t(::pagedkv::f32_to_bf16(lo)) | (uint32_t(::pagedkv::f32_to_bf16(hi)) << 16);
  }
  static void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    emu_mma(c, a, b0, b1, true);
  }
};
template <> struct MmaType<__half> {
  static uint32_t pack(float lo, float hi) {
    return uint32_t(::pagedkv::f32_to_f16(lo)) | (uint32_t(::pagedkv::f32_to_f16(hi)) << 16);
  }
  static void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    emu_mma(c, a, b0, b1, false);
  }
};

inline uint32_t smem_addr(const void* p) { return emu::shared_off(p); }

// ldmatrix .x4: lanes 8m..8m+7 give the row addresses of matrix m; lane l gets of matrix m
// (row l/4, cols 2(l%4), +1), or with .trans (rows 2(l%4), +1, col l/4).
inline void emu_ldmatrix(uint32_t (&r)[4], uint32_t s, bool trans) {
  uint64_t in = s, out[4];
  emu::collective(trans ? 4 : 3, &in, 1, out, 4, [trans](uint64_t (*I)[8], uint64_t (*O)[8]) {
    uint16_t M[4][8][8];
    for (int m = 0; m < 4; ++m)
      for (int row = 0; row < 8; ++row) {
        const uint32_t a = uint32_t(I[8 * m + row][0]);
        if (a % 16) emu::die("ldmatrix: row address not 16-byte aligned");
        emu::check_shared(a, 16, "ldmatrix");
        std::memcpy(M[m][row], emu::shared_ptr(a), 16);
      }
    for (int l = 0; l < 32; ++l)
      for (int m = 0; m < 4; ++m) {
        uint16_t e0, e1;
        if (!trans) { e0 = M[m][l / 4][2 * (l % 4)]; e1 = M[m][l / 4][2 * (l % 4) + 1]; }
        else { e0 = M[m][2 * (l % 4)][l / 4]; e1 = M[m][2 * (l % 4) + 1][l / 4]; }
        O[l][m] = uint32_t(e0) | (uint32_t(e1) << 16);
      }
  });
  for (int i = 0; i < 4; ++i) r[i] = uint32_t(out[i]);
}
inline void ldmatrix_x4(uint32_t (&r)[4], uint32_t s) { emu_ldmatrix(r, s, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t s) { emu_ldmatrix(r, s, true); }

// ---- copied verbatim from src/attention/cuda/mma_fragments.cuh ----
template <int RowBytes>
__device__ __forceinline__ int swz(int tok, int ch) {
  return tok * RowBytes + ((ch ^ (tok & 7)) << 4);
}
template <int Chunks>
__device__ __forceinline__ int fp8_vchunk(int tok, int ch) {
  return Chunks >= 8 ? ch ^ (tok & 7) : ch ^ ((tok >> 1) & 3);
}
template <int Chunks>
__device__ __forceinline__ int fp8_kchunk(int tok, int ch) {
  return Chunks >= 8 ? ch ^ ((tok & 1) << 2) : ch;
}
__device__ __forceinline__ float fast_exp2(float x) { return x == -INFINITY ? 0.f : exp2f(x); }
__device__ __forceinline__ uint32_t fp8_pair(uint32_t w, uint32_t sel) {
  return e4m3x2_to_f16x2_scaled(__byte_perm(w, 0u, sel));
}
template <bool kFp8>
__device__ __forceinline__ int out_dim(int nt, int e, int q4) {
  return kFp8 ? 16 * (nt / 2) + 4 * q4 + 2 * e + nt % 2 : 8 * nt + 2 * q4 + e;
}
}  // namespace pagedkv::cuda_detail
