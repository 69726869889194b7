#include "attention/paged_decode_cpu.h"

#include "attention/decode_cpu_engine.h"
#include "attention/decode_validate.h"
#include "core/error.h"

namespace pagedkv {

void paged_decode_cpu(const DecodeParams& p, const CpuDecodeOptions& options) {
  validate_decode_params(p);
  PKV_CHECK(p.kv.dtype != DType::kFP8E4M3, Unsupported,
            "paged_decode_cpu: fp8 KV is not supported on the CPU (f32, f16, bf16)");
  detail::CpuDecodeJob j;
  j.q = p.q;
  j.q_dtype = p.q_dtype;
  j.batch_size = p.pages.batch_size;
  j.num_q_heads = p.num_q_heads;
  j.num_kv_heads = p.kv.num_kv_heads;
  j.head_dim = p.kv.head_dim;
  j.kv_dtype = p.kv.dtype;
  j.visible_len = p.pages.visible_len;
  j.scale = p.scale;
  j.softcap = p.softcap;
  j.sinks = p.sinks;
  j.out = p.out;
  j.lse = p.lse;
  j.paged = true;
  j.stride_token = p.kv.stride_token;
  j.stride_head = p.kv.stride_head;
  j.k_pool = p.kv.k;
  j.v_pool = p.kv.v;
  j.stride_block = p.kv.stride_block;
  j.block_size = p.kv.block_size;
  j.indptr = p.pages.indptr;
  j.indices = p.pages.indices;
  j.first_offset = p.pages.first_offset;
  detail::run_cpu_decode(j, options);
}

}  // namespace pagedkv
