#include "attention/dense_decode_cpu.h"

#include <cmath>

#include "attention/decode_cpu_engine.h"
#include "attention/decode_validate.h"
#include "core/error.h"

namespace pagedkv {

void validate_dense_decode_params(const DenseDecodeParams& p) {
  const int32_t B = p.batch_size;
  PKV_CHECK(B >= 0, InvalidArgument, "dense decode: batch_size must be >= 0, got ", B);
  PKV_CHECK(p.num_kv_heads >= 1 && p.num_q_heads >= 1, InvalidArgument,
            "dense decode: head counts must be >= 1 (Hq ", p.num_q_heads, ", Hkv ", p.num_kv_heads,
            ")");
  PKV_CHECK(p.num_q_heads % p.num_kv_heads == 0, InvalidArgument, "dense decode: num_q_heads (",
            p.num_q_heads, ") is not a multiple of num_kv_heads (", p.num_kv_heads, ")");
  PKV_CHECK(is_supported_decode_head_dim(p.head_dim), Unsupported, "dense decode: head_dim ",
            p.head_dim, " is not supported (supported: 64, 80, 96, 128, 256)");
  for (DType t : {p.q_dtype, p.kv_dtype}) {
    PKV_CHECK(t == DType::kF32 || t == DType::kF16 || t == DType::kBF16, Unsupported,
              "dense decode: dtype ", dtype_name(t), " is not supported (f32, f16, bf16)");
  }
  PKV_CHECK(std::isfinite(p.scale) && p.scale > 0.0f, InvalidArgument,
            "dense decode: scale must be finite and > 0, got ", p.scale);
  PKV_CHECK(std::isfinite(p.softcap) && p.softcap >= 0.0f, InvalidArgument,
            "dense decode: softcap must be finite and >= 0, got ", p.softcap);
  if (B == 0) return;
  PKV_CHECK(p.q && p.out && p.k && p.v && p.seq_len, InvalidArgument,
            "dense decode: null pointer among q, out, k, v, seq_len");
  for (int32_t b = 0; b < B; ++b) {
    PKV_CHECK(p.seq_len[b] >= 1, InvalidArgument, "dense decode: sequence ", b,
              " has an empty visible range (seq_len ", p.seq_len[b], ")");
    PKV_CHECK(p.k[b] && p.v[b], InvalidArgument, "dense decode: K/V pointer of sequence ", b,
              " is null");
  }
}

void dense_decode_cpu(const DenseDecodeParams& p, const CpuDecodeOptions& options) {
  validate_dense_decode_params(p);
  detail::CpuDecodeJob j;
  j.q = p.q;
  j.q_dtype = p.q_dtype;
  j.batch_size = p.batch_size;
  j.num_q_heads = p.num_q_heads;
  j.num_kv_heads = p.num_kv_heads;
  j.head_dim = p.head_dim;
  j.kv_dtype = p.kv_dtype;
  j.visible_len = p.seq_len;
  j.scale = p.scale;
  j.softcap = p.softcap;
  j.sinks = p.sinks;
  j.out = p.out;
  j.lse = p.lse;
  j.paged = false;
  j.stride_head = p.head_dim;
  j.stride_token = int64_t(p.num_kv_heads) * p.head_dim;
  j.seq_k = p.k;
  j.seq_v = p.v;
  detail::run_cpu_decode(j, options);
}

DenseDecodeParams dense_params_for(const DecodeParams& p, const void* const* k,
                                   const void* const* v) {
  DenseDecodeParams d;
  d.q = p.q;
  d.q_dtype = p.q_dtype;
  d.num_q_heads = p.num_q_heads;
  d.k = k;
  d.v = v;
  d.kv_dtype = p.kv.dtype;
  d.num_kv_heads = p.kv.num_kv_heads;
  d.head_dim = p.kv.head_dim;
  d.seq_len = p.pages.visible_len;
  d.batch_size = p.pages.batch_size;
  d.scale = p.scale;
  d.softcap = p.softcap;
  d.sinks = p.sinks;
  d.out = p.out;
  d.lse = p.lse;
  return d;
}

}  // namespace pagedkv
