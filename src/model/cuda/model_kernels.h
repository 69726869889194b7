#pragma once
// The elementwise kernels of the CUDA decoder (everything but GEMMs and attention), each fused so
// that an activation crosses HBM as few times as possible. The residual stream is f32; GEMM
// inputs and outputs are bf16. All pointers are device pointers; every launcher is async on
// `stream` and checks the launch. Shapes follow the CPU twins (norms.h, rope.h, mlp.h, moe.h).

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "kv/kv_view.h"
#include "model/model_config.h"

namespace pagedkv::cuda {

using bf16_t = uint16_t;  // bf16 bits (the kernels use __nv_bfloat16)

// x [R, H] (f32) = table[tokens[r]] (bf16 [V, H]) * scale.
void embed_rows(const bf16_t* table, const int32_t* tokens, float scale, float* x, int64_t rows,
                int64_t hidden, cudaStream_t stream);

// One residual step and the next block's input norm, per row:
//   t = y + y_bias;  t = norm(t) * y_norm  (when y_norm: Gemma's sandwich norm);  x += t;
//   h = norm(x) * w  (bf16, the next GEMM's input).
// y (bf16 or f32, [R, H]) may be null: then only h = norm(x) * w. Norms weigh by `mode`.
struct AddNormArgs {
  float* x = nullptr;             // [R, H] residual stream, updated in place
  const void* y = nullptr;        // [R, H] sublayer output or null
  DType y_dtype = DType::kBF16;   // bf16 (GEMM output) or f32 (MoE accumulation)
  const float* y_bias = nullptr;  // [H] or null
  const float* y_norm = nullptr;  // [H] or null
  const float* w = nullptr;       // [H] norm of x; null: no h output
  bf16_t* h = nullptr;            // [R, H]
  int64_t rows = 0, hidden = 0;
  int64_t x_row_offset = 0;  // h row i reads x row x_row_offset + i (last-row logits)
  NormWeight mode = NormWeight::kPlain;
  float eps = 1e-6f;
  // Launched with programmatic dependent launch (core/cuda/pdl.cuh): it loads its weights and
  // bias while the kernel before it runs, then waits for it.
  bool programmatic = false;
};
void add_rmsnorm(const AddNormArgs& a, cudaStream_t stream);

// The attention input of one layer, per row: from the fused q|k|v GEMM output, add the biases,
// apply the layer's position handling in HF's order (learned per-head norms before RoPE; RoPE,
// then weightless norms; or temperature tuning on NoPE layers), write q (bf16 [R, Hq, D]) and
// store k and v into the paged pool at the row's slot (block * block_size + offset; -1 skips).
struct QkvArgs {
  const bf16_t* qkv = nullptr;      // [R, (Hq + 2 Hkv) * D]
  const float* bias = nullptr;      // [(Hq + 2 Hkv) * D] or null
  const float* q_norm = nullptr;    // [D] (QkNorm::kLearnedBeforeRope)
  const float* k_norm = nullptr;    // [D]
  const float* inv_freq = nullptr;  // [D / 2] this layer's RoPE frequencies (null: NoPE)
  const int32_t* pos = nullptr;     // [R]
  const int64_t* slots = nullptr;   // [R]
  bf16_t* q = nullptr;              // [R, Hq, D]
  KvLayerView pool;                 // this layer's K/V (bf16 or fp8 with per-tensor scales)
  int64_t rows = 0;
  int32_t num_q_heads = 0, num_kv_heads = 0, head_dim = 0;
  QkNorm qk_norm = QkNorm::kNone;
  NormWeight norm_mode = NormWeight::kPlain;
  RopeStyle rope_style = RopeStyle::kRotateHalf;
  bool temperature_tuning = false;
  float floor_scale = 8192.f, attn_scale = 0.1f;
  float eps = 1e-6f;
  bool programmatic = false;  // launched to overlap the product before it (core/cuda/pdl.cuh)
};
void qkv_positions_write(const QkvArgs& a, cudaStream_t stream);

// out [R, I] = act(gate + bg) * (up + bu) from gu [R, 2I] (gate columns first, as HF's fused
// gate_up and the fused GEMM lay them out). Biases may be null.
void gated_activation(const bf16_t* gu, const float* gate_bias, const float* up_bias,
                      Activation act, bf16_t* out, int64_t rows, int64_t inter, cudaStream_t stream,
                      bool programmatic = false);

// logits [n] = cap * tanh(logits / cap).
void softcap(float* logits, int64_t n, float cap, cudaStream_t stream);

// MoE routing helpers. out [n, H] = x[rows[i]] * scale[i] (bf16);
void gather_scaled_rows(const bf16_t* x, const int32_t* rows, const float* scale, bf16_t* out,
                        int64_t n, int64_t hidden, cudaStream_t stream);
// acc[rows[i]] += y[i] (acc f32 [R, H], y bf16 [n, H]); rows distinct within one call.
void scatter_add_rows(float* acc, const bf16_t* y, const int32_t* rows, int64_t n, int64_t hidden,
                      cudaStream_t stream);
// acc [n] (f32) = y [n] (bf16).
void widen_bf16(const bf16_t* y, float* acc, int64_t n, cudaStream_t stream);

// Seeded random bf16 weights made on the device (benchmark models): x[i] = mean + std * N(0, 1)
// from a counter-based generator, so a (seed, stream id) gives the same tensor on any GPU.
void fill_normal_bf16(bf16_t* x, int64_t n, float mean, float stddev, uint64_t seed,
                      cudaStream_t stream);
void fill_normal_f32(float* x, int64_t n, float mean, float stddev, uint64_t seed,
                     cudaStream_t stream);

}  // namespace pagedkv::cuda
