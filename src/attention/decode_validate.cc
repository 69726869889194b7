#include "attention/decode_validate.h"

#include <cmath>

#include "core/error.h"

namespace pagedkv {

bool is_supported_decode_head_dim(int32_t head_dim) {
  switch (head_dim) {
    case 64:
    case 80:
    case 96:
    case 128:
    case 256:
      return true;
    default:
      return false;
  }
}

namespace {

bool is_float_dtype(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

}  // namespace

void validate_decode_params(const DecodeParams& p) {
  const KvLayerView& kv = p.kv;
  const PageListView& pl = p.pages;
  const int32_t B = pl.batch_size;
  PKV_CHECK(B >= 0, InvalidArgument, "decode: batch_size must be >= 0, got ", B);
  PKV_CHECK(kv.num_kv_heads >= 1, InvalidArgument, "decode: num_kv_heads must be >= 1, got ",
            kv.num_kv_heads);
  PKV_CHECK(p.num_q_heads >= 1, InvalidArgument, "decode: num_q_heads must be >= 1, got ",
            p.num_q_heads);
  PKV_CHECK(p.num_q_heads % kv.num_kv_heads == 0, InvalidArgument, "decode: num_q_heads (",
            p.num_q_heads, ") is not a multiple of num_kv_heads (", kv.num_kv_heads, ")");
  PKV_CHECK(is_supported_decode_head_dim(kv.head_dim), Unsupported, "decode: head_dim ",
            kv.head_dim, " is not supported (supported: 64, 80, 96, 128, 256)");
  PKV_CHECK(is_float_dtype(p.q_dtype), Unsupported, "decode: q/out dtype ", dtype_name(p.q_dtype),
            " is not supported (f32, f16, bf16)");
  PKV_CHECK(is_float_dtype(kv.dtype) || kv.dtype == DType::kFP8E4M3, Unsupported,
            "decode: KV dtype ", dtype_name(kv.dtype), " is not supported");
  PKV_CHECK(kv.block_size >= 1, InvalidArgument, "decode: block_size must be >= 1, got ",
            kv.block_size);
  PKV_CHECK(kv.num_blocks >= 1, InvalidArgument, "decode: num_blocks must be >= 1, got ",
            kv.num_blocks);
  PKV_CHECK(kv.stride_head >= kv.head_dim && kv.stride_token >= 1 && kv.stride_block >= 1,
            InvalidArgument, "decode: bad KV strides (block ", kv.stride_block, ", token ",
            kv.stride_token, ", head ", kv.stride_head, ") for head_dim ", kv.head_dim);
  PKV_CHECK(std::isfinite(p.scale) && p.scale > 0.0f, InvalidArgument,
            "decode: scale must be finite and > 0 (usually 1/sqrt(head_dim)), got ", p.scale);
  PKV_CHECK(std::isfinite(p.softcap) && p.softcap >= 0.0f, InvalidArgument,
            "decode: softcap must be finite and >= 0 (0 = off), got ", p.softcap);
  if (B == 0) return;

  PKV_CHECK(p.q != nullptr, InvalidArgument, "decode: q is null");
  PKV_CHECK(p.out != nullptr, InvalidArgument, "decode: out is null");
  PKV_CHECK(kv.k != nullptr, InvalidArgument, "decode: K pool pointer is null");
  PKV_CHECK(kv.v != nullptr, InvalidArgument, "decode: V pool pointer is null");
  PKV_CHECK(pl.indptr != nullptr, InvalidArgument, "decode: page list indptr is null");
  PKV_CHECK(pl.first_offset != nullptr, InvalidArgument, "decode: page list first_offset is null");
  PKV_CHECK(pl.visible_len != nullptr, InvalidArgument, "decode: page list visible_len is null");
  PKV_CHECK(pl.indptr[0] == 0, InvalidArgument, "decode: indptr[0] must be 0, got ", pl.indptr[0]);
  PKV_CHECK(pl.indptr[B] == 0 || pl.indices != nullptr, InvalidArgument,
            "decode: page list indices is null");
  if (kv.dtype == DType::kFP8E4M3) {
    PKV_CHECK(std::isfinite(kv.k_scale) && std::isfinite(kv.v_scale), InvalidArgument,
              "decode: fp8 KV scales must be finite");
  }
  if (p.sinks != nullptr) {
    for (int32_t h = 0; h < p.num_q_heads; ++h) {
      PKV_CHECK(std::isfinite(p.sinks[h]), InvalidArgument, "decode: sink logit of head ", h,
                " is not finite: ", p.sinks[h]);
    }
  }

  for (int32_t b = 0; b < B; ++b) {
    const int32_t begin = pl.indptr[b], end = pl.indptr[b + 1];
    PKV_CHECK(end >= begin, InvalidArgument, "decode: indptr decreases at sequence ", b, " (",
              begin, " -> ", end, ")");
    const int32_t len = pl.visible_len[b];
    PKV_CHECK(len >= 1, InvalidArgument, "decode: sequence ", b,
              " has an empty visible range (visible_len ", len, ", must be >= 1)");
    const int32_t off = pl.first_offset[b];
    PKV_CHECK(off >= 0 && off < kv.block_size, InvalidArgument, "decode: sequence ", b,
              " first_offset ", off, " is outside [0, block_size ", kv.block_size, ")");
    const int64_t need = blocks_needed(off, len, kv.block_size);
    PKV_CHECK(need <= end - begin, InvalidArgument, "decode: sequence ", b, " sees ", len,
              " tokens from slot ", off, ", which needs ", need, " blocks of ", kv.block_size,
              ", but its page list has ", end - begin);
    for (int32_t i = begin; i < end; ++i) {
      const int32_t id = pl.indices[i];
      PKV_CHECK(id >= 0 && id < kv.num_blocks, InvalidArgument, "decode: sequence ", b,
                " lists block id ", id, " outside the pool [0, ", kv.num_blocks, ")");
    }
  }
}

}  // namespace pagedkv
