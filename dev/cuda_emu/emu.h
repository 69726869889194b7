#pragma once
// dev/cuda_emu: host emulation of the CUDA features the attention kernels use, to run their real
// source on a machine without a GPU (see README.md). Included before the kernel headers: it maps
// the CUDA keywords and built-ins (threadIdx, __syncthreads, shuffles, __ldg, ...) onto emulated
// threads; include/attention/cuda/ shadows the two headers that hold inline PTX.
#include <cuda_runtime_api.h>
#include <vector_functions.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __launch_bounds__
#undef __shared__
#undef __align__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__
#define __align__(n)

namespace emu {

struct Thread;
struct Cta {
  uint3 blockIdx;
  dim3 gridDim, blockDim;
  uint8_t* smem = nullptr;
  size_t smem_bytes = 0;
};
Thread& cur();
const Cta& cta();
[[noreturn]] void die(const char* what);

// Memory checks: global ranges registered by the fake cudaMalloc (and test buffers).
void check_global(const void* p, size_t bytes, const char* what);
void check_shared(uint32_t off, size_t bytes, const char* what);
uint8_t* shared_ptr(uint32_t off);
uint32_t shared_off(const void* p);

// Warp collective: every lane contributes `in` (n words) and gets `out` (m words) computed by
// `compute(in[32][8], out[32][8])`, executed once by the last lane to arrive.
void collective(int op, const uint64_t* in, int n, uint64_t* out, int m,
                const std::function<void(uint64_t (*)[8], uint64_t (*)[8])>& compute);
void syncthreads();
void syncwarp();

// cp.async: queued per thread, landed at wait (late mode) or at issue (early mode).
void cp_async(uint32_t dst_off, const void* src, int cp_bytes, int src_bytes);
void cp_commit();
void cp_wait(int n);

int lane();
}  // namespace emu

#define threadIdx (::emu::cur_tid())
#define blockIdx (::emu::cta().blockIdx)
#define gridDim (::emu::cta().gridDim)
#define blockDim (::emu::cta().blockDim)
namespace emu { const uint3& cur_tid(); }

inline void __syncthreads() { emu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::syncwarp(); }
inline void __threadfence() {}

template <typename T>
T emu_shfl(T v, int mode, int arg) {
  static_assert(sizeof(T) <= 8);
  uint64_t in = 0, out = 0;
  std::memcpy(&in, &v, sizeof(T));
  emu::collective(100 + mode, &in, 1, &out, 1, [mode, arg](uint64_t (*i)[8], uint64_t (*o)[8]) {
    for (int l = 0; l < 32; ++l) {
      int src = mode == 0 ? (l ^ arg) : arg;
      if (src < 0 || src > 31) src = l;
      o[l][0] = i[src][0];
    }
  });
  T r;
  std::memcpy(&r, &out, sizeof(T));
  return r;
}
template <typename T> T __shfl_xor_sync(unsigned, T v, int m) { return emu_shfl(v, 0, m); }
template <typename T> T __shfl_sync(unsigned, T v, int src) { return emu_shfl(v, 1, src); }

template <typename T> T __ldg(const T* p) {
  emu::check_global(p, sizeof(T), "__ldg");
  return *p;
}
template <typename T> T __ldcs(const T* p) {
  emu::check_global(p, sizeof(T), "__ldcs");
  return *p;
}
template <typename T> T __ldcg(const T* p) {
  emu::check_global(p, sizeof(T), "__ldcg");
  return *p;
}
inline float __uint_as_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t __float_as_uint(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline uint32_t __byte_perm(uint32_t x, uint32_t y, uint32_t s) {
  const uint64_t v = (uint64_t(y) << 32) | x;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r |= uint32_t((v >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
  return r;
}
inline size_t __cvta_generic_to_shared(const void* p) { return emu::shared_off(p); }
inline int max(int a, int b) { return a > b ? a : b; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int atomicAdd(int* p, int v) { int o = *p; *p += v; return o; }
