#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "core/cuda/cuda_check.h"
#include "core/cuda/pdl.cuh"
#include "core/error.h"
#include "model/cuda/model_kernels.h"

namespace pagedkv::cuda {

namespace {

constexpr int kWarp = 32;

__device__ __forceinline__ float bf2f(bf16_t b) { return __uint_as_float(uint32_t(b) << 16); }
__device__ __forceinline__ bf16_t f2bf(float f) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over a block of blockDim.x threads (a multiple of 32, <= 1024). All threads get the sum.
__device__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // partial[] may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = blockDim.x / kWarp;
  v = lane < warps ? partial[lane] : 0.f;
  return warp_sum(v);
}

__device__ __forceinline__ float norm_weigh(float n, const float* w, int64_t i, NormWeight mode) {
  switch (mode) {
    case NormWeight::kPlain:
      return w[i] * n;
    case NormWeight::kOnePlus:
      return n * (1.f + w[i]);
    default:
      return n;
  }
}

__device__ __forceinline__ float activate(Activation act, float x) {
  if (act == Activation::kSilu) return x / (1.f + expf(-x));
  const float k = 0.7978845608028654f;
  return 0.5f * x * (1.f + tanhf(k * (x + 0.044715f * x * x * x)));
}

void check_launch(const char* what) { cuda_check(cudaGetLastError(), what); }

unsigned blocks_for(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

__global__ void embed_kernel(const bf16_t* table, const int32_t* tokens, float scale, float* x,
                             int64_t hidden) {
  // One element per thread, blockIdx.y picking the row's slice: a strided loop would wait out one
  // load per element (the store to x may alias the table as far as the compiler knows).
  const int64_t r = blockIdx.x;
  const int64_t i = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  if (i < hidden) x[r * hidden + i] = bf2f(table[int64_t(tokens[r]) * hidden + i]) * scale;
}

// add_rmsnorm and gated feed the next matrix product: they let its CTAs be scheduled at once
// (pdl_launch_dependents), so a small-M product launched programmatically streams its first
// weights while they run. add_rmsnorm is itself launched programmatically (AddNormArgs): its
// weight and bias loads, which no kernel writes, overlap the product before it.
//
// One CTA of kNormThreads per row; thread t holds elements t, t + kNormThreads, ... of the row in
// registers (PER of them) together with their norm weights, so every load is issued before the
// first store. Why: x and h may alias the weights as far as the compiler knows, so a load after a
// store waits for it; a loop that stores h and loads w[i] in turn pays one memory round trip per
// element, which made this one-CTA kernel the largest non-GEMM cost of a B = 1 decode step. The
// sums run in the same order as a strided loop's, so the results are the same bits.
constexpr int kNormThreads = 256;

template <int PER>
__global__ void __launch_bounds__(kNormThreads) add_rmsnorm_kernel(AddNormArgs a) {
  pdl_launch_dependents();
  const int64_t H = a.hidden;
  const int64_t r = blockIdx.x;
  float* x = a.x + (r + a.x_row_offset) * H;
  const auto at = [&](int j) { return int64_t(threadIdx.x) + int64_t(j) * kNormThreads; };
  // Every load before the first store. The weights and bias first: no kernel writes them, so
  // they load before pdl_wait(), under the end of the kernel before this one.
  float xv[PER], yv[PER], yb[PER], yw[PER], ww[PER];
#pragma unroll
  for (int j = 0; j < PER; ++j) {
    const int64_t i = at(j);
    const bool in = i < H;
    yb[j] = a.y_bias != nullptr && in ? a.y_bias[i] : 0.f;
    yw[j] = a.y_norm != nullptr && in ? a.y_norm[i] : 0.f;
    ww[j] = a.w != nullptr && in ? a.w[i] : 0.f;
  }
  pdl_wait();  // x and y are the earlier kernels'
#pragma unroll
  for (int j = 0; j < PER; ++j) {
    const int64_t i = at(j);
    const bool in = i < H;
    xv[j] = in ? x[i] : 0.f;
    yv[j] = 0.f;
    if (a.y != nullptr && in) {
      yv[j] = a.y_dtype == DType::kF32 ? static_cast<const float*>(a.y)[r * H + i]
                                       : bf2f(static_cast<const bf16_t*>(a.y)[r * H + i]);
      if (a.y_bias) yv[j] += yb[j];
    }
  }
  if (a.y != nullptr) {
    float inv = 1.f;
    if (a.y_norm != nullptr) {  // sandwich norm of the sublayer output
      float ss = 0.f;
#pragma unroll
      for (int j = 0; j < PER; ++j) ss += yv[j] * yv[j];
      inv = rsqrtf(block_sum(ss) / float(H) + a.eps);
    }
#pragma unroll
    for (int j = 0; j < PER; ++j) {
      const int64_t i = at(j);
      if (i >= H) break;
      xv[j] += a.y_norm ? norm_weigh(yv[j] * inv, yw, j, a.mode) : yv[j];
      x[i] = xv[j];
    }
  }
  if (a.w == nullptr) return;
  float ss = 0.f;
#pragma unroll
  for (int j = 0; j < PER; ++j) ss += xv[j] * xv[j];
  const float inv = rsqrtf(block_sum(ss) / float(H) + a.eps);
#pragma unroll
  for (int j = 0; j < PER; ++j) {
    const int64_t i = at(j);
    if (i >= H) break;
    a.h[r * H + i] = f2bf(norm_weigh(xv[j] * inv, ww, j, a.mode));
  }
}

// Stores one value into the pool in its dtype (fp8: value / scale, saturating).
__device__ __forceinline__ void store_kv(void* base, int64_t off, DType dt, float v, float scale) {
  switch (dt) {
    case DType::kBF16:
      static_cast<bf16_t*>(base)[off] = f2bf(v);
      break;
    case DType::kF16:
      static_cast<__half*>(base)[off] = __float2half_rn(v);
      break;
    case DType::kF32:
      static_cast<float*>(base)[off] = v;
      break;
    default:  // fp8 e4m3
      static_cast<__nv_fp8_storage_t*>(base)[off] =
          __nv_cvt_float_to_fp8(v / scale, __NV_SATFINITE, __NV_E4M3);
      break;
  }
}

// One warp per (row, head slot); slots [0, Hq) are q heads, [Hq, Hq + Hkv) k, then v. Lane L
// holds the C = D / 32 contiguous elements [L C, L C + C): rotate-half partners (i, i + D/2) sit
// in lanes L and L ^ 16 at the same offset; interleaved pairs (2i, 2i + 1) in one lane.
template <int C>
__global__ void qkv_kernel(QkvArgs a) {
  const int64_t warp_id = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const int lane = threadIdx.x % kWarp;
  const int Hq = a.num_q_heads, Hkv = a.num_kv_heads, D = a.head_dim;
  const int slots_per_row = Hq + 2 * Hkv;
  if (warp_id >= a.rows * slots_per_row) return;
  pdl_wait();  // the q|k|v product is the kernel before's
  const int64_t r = warp_id / slots_per_row;
  const int s = int(warp_id % slots_per_row);
  const int kind = s < Hq ? 0 : s < Hq + Hkv ? 1 : 2;  // q, k, v
  const int head = kind == 0 ? s : kind == 1 ? s - Hq : s - Hq - Hkv;
  const int64_t col = int64_t(s) * D + lane * C;  // column in the fused q|k|v row
  float v[C];
#pragma unroll
  for (int t = 0; t < C; ++t) {
    v[t] = bf2f(a.qkv[r * int64_t(slots_per_row) * D + col + t]);
    if (a.bias) v[t] += a.bias[col + t];
  }
  auto rms = [&](const float* w) {  // per-head RMSNorm over D (w null: weightless)
    float ss = 0.f;
#pragma unroll
    for (int t = 0; t < C; ++t) ss += v[t] * v[t];
    const float inv = rsqrtf(warp_sum(ss) / float(D) + a.eps);
#pragma unroll
    for (int t = 0; t < C; ++t)
      v[t] = w ? norm_weigh(v[t] * inv, w, lane * C + t, a.norm_mode) : v[t] * inv;
  };
  if (kind != 2) {
    if (a.qk_norm == QkNorm::kLearnedBeforeRope) rms(kind == 0 ? a.q_norm : a.k_norm);
    if (a.inv_freq != nullptr) {
      const float pos = float(a.pos[r]);
      if (a.rope_style == RopeStyle::kRotateHalf) {
        const bool first = lane < 16;
#pragma unroll
        for (int t = 0; t < C; ++t) {
          const int i = (lane % 16) * C + t;
          const float angle = pos * a.inv_freq[i];
          const float c = cosf(angle), sn = sinf(angle);
          const float other = __shfl_xor_sync(0xffffffffu, v[t], 16);
          v[t] = first ? v[t] * c - other * sn : v[t] * c + other * sn;
        }
      } else {
#pragma unroll
        for (int t = 0; t < C; t += 2) {
          const int i = (lane * C + t) / 2;
          const float angle = pos * a.inv_freq[i];
          const float c = cosf(angle), sn = sinf(angle);
          const float x0 = v[t], x1 = v[t + 1];
          v[t] = x0 * c - x1 * sn;
          v[t + 1] = x0 * sn + x1 * c;
        }
      }
      if (a.qk_norm == QkNorm::kWeightlessAfterRope) rms(nullptr);
    } else if (a.temperature_tuning && kind == 0) {
      const float scale =
          log1pf(floorf((float(a.pos[r]) + 1.f) / a.floor_scale)) * a.attn_scale + 1.f;
#pragma unroll
      for (int t = 0; t < C; ++t) v[t] *= scale;
    }
  }
  if (kind == 0) {
#pragma unroll
    for (int t = 0; t < C; ++t) a.q[(r * Hq + head) * int64_t(D) + lane * C + t] = f2bf(v[t]);
    return;
  }
  const int64_t slot = a.slots[r];
  if (slot < 0) return;
  const KvLayerView& p = a.pool;
  const int64_t off = (slot / p.block_size) * p.stride_block +
                      (slot % p.block_size) * p.stride_token + int64_t(head) * p.stride_head +
                      lane * C;
  void* base = const_cast<void*>(kind == 1 ? p.k : p.v);
  const float scale = kind == 1 ? p.k_scale : p.v_scale;
#pragma unroll
  for (int t = 0; t < C; ++t) store_kv(base, off + t, p.dtype, v[t], scale);
}

__global__ void gated_kernel(const bf16_t* gu, const float* bg, const float* bu, Activation act,
                             bf16_t* out, int64_t rows, int64_t inter) {
  pdl_launch_dependents();
  pdl_wait();  // gu is the kernel before's
  const int64_t n = rows * inter;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / inter, c = i % inter;
    float g = bf2f(gu[r * 2 * inter + c]), u = bf2f(gu[r * 2 * inter + inter + c]);
    if (bg) g += bg[c];
    if (bu) u += bu[c];
    out[i] = f2bf(activate(act, g) * u);
  }
}

__global__ void softcap_kernel(float* x, int64_t n, float cap) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] = tanhf(x[i] / cap) * cap;
}

__global__ void gather_kernel(const bf16_t* x, const int32_t* rows, const float* scale, bf16_t* out,
                              int64_t hidden) {
  const int64_t i = blockIdx.x;
  const bf16_t* src = x + int64_t(rows[i]) * hidden;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x)
    out[i * hidden + c] = f2bf(bf2f(src[c]) * scale[i]);
}

__global__ void scatter_add_kernel(float* acc, const bf16_t* y, const int32_t* rows,
                                   int64_t hidden) {
  const int64_t i = blockIdx.x;
  float* dst = acc + int64_t(rows[i]) * hidden;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) dst[c] += bf2f(y[i * hidden + c]);
}

__global__ void widen_kernel(const bf16_t* y, float* acc, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    acc[i] = bf2f(y[i]);
}

// splitmix64: a counter-based generator (each index hashed independently).
__device__ __forceinline__ uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__device__ __forceinline__ float normal_at(uint64_t seed, int64_t i) {
  const uint64_t h = mix(seed ^ mix(uint64_t(i)));
  const float u1 = (float(h >> 40) + 1.f) * (1.f / 16777217.f);  // (0, 1]
  const float u2 = float((h >> 16) & 0xffffff) * (1.f / 16777216.f);
  return sqrtf(-2.f * logf(u1)) * cospif(2.f * u2);
}

template <typename T>
__global__ void fill_normal_kernel(T* x, int64_t n, float mean, float stddev, uint64_t seed) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = mean + stddev * normal_at(seed, i);
    if constexpr (sizeof(T) == 2) {
      x[i] = f2bf(v);
    } else {
      x[i] = v;
    }
  }
}

constexpr unsigned kGridCap = 65535u * 4u;  // grid-stride kernels: enough blocks to fill a GPU

unsigned stride_blocks(int64_t n) {
  const unsigned b = blocks_for(n, 256);
  return b < kGridCap ? (b > 0 ? b : 1u) : kGridCap;
}

}  // namespace

void embed_rows(const bf16_t* table, const int32_t* tokens, float scale, float* x, int64_t rows,
                int64_t hidden, cudaStream_t stream) {
  if (rows == 0) return;
  const dim3 grid(unsigned(rows), unsigned((hidden + 255) / 256));
  embed_kernel<<<grid, 256, 0, stream>>>(table, tokens, scale, x, hidden);
  check_launch("embed_rows");
}

void add_rmsnorm(const AddNormArgs& a, cudaStream_t stream) {
  PKV_CHECK(a.hidden > 0 && a.hidden <= 64 * kNormThreads, Unsupported, "CUDA model: hidden size ",
            a.hidden, " (the GPU norm kernel takes up to ", 64 * kNormThreads, ")");
  if (a.rows == 0) return;
  const unsigned grid = unsigned(a.rows);
  auto launch = [&](auto kernel) {
    cuda_check(launch_programmatic(a.programmatic, kernel, grid, kNormThreads, stream, a),
               "launching add_rmsnorm");
  };
  if (a.hidden <= 8 * kNormThreads)
    launch(add_rmsnorm_kernel<8>);
  else if (a.hidden <= 16 * kNormThreads)
    launch(add_rmsnorm_kernel<16>);
  else if (a.hidden <= 32 * kNormThreads)
    launch(add_rmsnorm_kernel<32>);
  else
    launch(add_rmsnorm_kernel<64>);
}

void qkv_positions_write(const QkvArgs& a, cudaStream_t stream) {
  PKV_CHECK(a.head_dim == 64 || a.head_dim == 128 || a.head_dim == 256, Unsupported,
            "CUDA model: head_dim ", a.head_dim, " (the GPU kernels take 64, 128 and 256)");
  PKV_CHECK(a.pool.dtype != DType::kFP8E4M3 || a.pool.k_head_scale == nullptr, Unsupported,
            "CUDA model: fp8 KV takes per-tensor scales only");
  if (a.rows == 0) return;
  const int64_t warps = a.rows * (a.num_q_heads + 2 * a.num_kv_heads);
  const unsigned blocks = blocks_for(warps * kWarp, 128);
  auto launch = [&](auto kernel) {
    cuda_check(launch_programmatic(a.programmatic, kernel, blocks, 128, stream, a),
               "launching qkv_positions_write");
  };
  switch (a.head_dim) {
    case 64:
      launch(qkv_kernel<2>);
      break;
    case 128:
      launch(qkv_kernel<4>);
      break;
    default:
      launch(qkv_kernel<8>);
      break;
  }
}

void gated_activation(const bf16_t* gu, const float* gate_bias, const float* up_bias,
                      Activation act, bf16_t* out, int64_t rows, int64_t inter, cudaStream_t stream,
                      bool programmatic) {
  if (rows == 0) return;
  cuda_check(launch_programmatic(programmatic, gated_kernel, stride_blocks(rows * inter), 256,
                                 stream, gu, gate_bias, up_bias, act, out, rows, inter),
             "launching gated_activation");
}

void softcap(float* logits, int64_t n, float cap, cudaStream_t stream) {
  if (n == 0) return;
  softcap_kernel<<<stride_blocks(n), 256, 0, stream>>>(logits, n, cap);
  check_launch("softcap");
}

void gather_scaled_rows(const bf16_t* x, const int32_t* rows, const float* scale, bf16_t* out,
                        int64_t n, int64_t hidden, cudaStream_t stream) {
  if (n == 0) return;
  gather_kernel<<<unsigned(n), 256, 0, stream>>>(x, rows, scale, out, hidden);
  check_launch("gather_scaled_rows");
}

void scatter_add_rows(float* acc, const bf16_t* y, const int32_t* rows, int64_t n, int64_t hidden,
                      cudaStream_t stream) {
  if (n == 0) return;
  scatter_add_kernel<<<unsigned(n), 256, 0, stream>>>(acc, y, rows, hidden);
  check_launch("scatter_add_rows");
}

void widen_bf16(const bf16_t* y, float* acc, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  widen_kernel<<<stride_blocks(n), 256, 0, stream>>>(y, acc, n);
  check_launch("widen_bf16");
}

void fill_normal_bf16(bf16_t* x, int64_t n, float mean, float stddev, uint64_t seed,
                      cudaStream_t stream) {
  if (n == 0) return;
  fill_normal_kernel<<<stride_blocks(n), 256, 0, stream>>>(x, n, mean, stddev, seed);
  check_launch("fill_normal_bf16");
}

void fill_normal_f32(float* x, int64_t n, float mean, float stddev, uint64_t seed,
                     cudaStream_t stream) {
  if (n == 0) return;
  fill_normal_kernel<<<stride_blocks(n), 256, 0, stream>>>(x, n, mean, stddev, seed);
  check_launch("fill_normal_f32");
}

}  // namespace pagedkv::cuda
